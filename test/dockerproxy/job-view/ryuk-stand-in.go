// A stand-in for testcontainers' reaper (Ryuk), built by the test: the testcontainers/ryuk image
// cannot be pulled here (no registry is reachable). It speaks Ryuk's protocol as testcontainers-node
// uses it, and removes what it is told through the docker socket bound into it at
// /var/run/docker.sock, as Ryuk does:
//   - it listens on TCP 8080 and logs "Started" once it does;
//   - each line a client sends is a filter set in URL query form ("label=k=v&label=k2"): it is kept
//     and answered "ACK\n";
//   - once every client connection has closed, and none came back within RYUK_RECONNECTION_TIMEOUT
//     (a Go duration, 10s by default), it removes the containers (forced, with their volumes),
//     networks and volumes each filter set selects, itself excepted, and exits.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

var docker = &http.Client{Transport: &http.Transport{
	DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", "/var/run/docker.sock")
	},
}}

func call(method, path string, out interface{}) error {
	req, err := http.NewRequest(method, "http://docker"+path, nil)
	if err != nil {
		return err
	}
	res, err := docker.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s", method, path, res.Status)
	}
	if out != nil {
		return json.NewDecoder(res.Body).Decode(out)
	}
	return nil
}

func removeSelected(filters url.Values, self string) {
	encoded, _ := json.Marshal(map[string][]string(filters))
	query := "filters=" + url.QueryEscape(string(encoded))
	var containers []struct{ Id string }
	if err := call("GET", "/containers/json?all=1&"+query, &containers); err != nil {
		fmt.Println("list containers:", err)
	}
	for _, c := range containers {
		if self != "" && strings.HasPrefix(c.Id, self) {
			continue
		}
		err := call("DELETE", "/containers/"+c.Id+"?force=1&v=1", nil)
		fmt.Println("container", c.Id, "removed:", err == nil, err)
	}
	var networks []struct{ Id string }
	if err := call("GET", "/networks?"+query, &networks); err == nil {
		for _, n := range networks {
			err := call("DELETE", "/networks/"+n.Id, nil)
			fmt.Println("network", n.Id, "removed:", err == nil, err)
		}
	}
	var volumes struct{ Volumes []struct{ Name string } }
	if err := call("GET", "/volumes?"+query, &volumes); err == nil {
		for _, v := range volumes.Volumes {
			err := call("DELETE", "/volumes/"+url.PathEscape(v.Name), nil)
			fmt.Println("volume", v.Name, "removed:", err == nil, err)
		}
	}
}

func main() {
	reconnection := 10 * time.Second
	if v := os.Getenv("RYUK_RECONNECTION_TIMEOUT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			reconnection = d
		}
	}
	listener, err := net.Listen("tcp", ":8080")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("Started")
	self, _ := os.Hostname()

	var mu sync.Mutex
	var filters []url.Values
	connected := 0
	idle := make(chan struct{}, 1)
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			connected++
			mu.Unlock()
			go func() {
				scanner := bufio.NewScanner(conn)
				for scanner.Scan() {
					line := strings.TrimSpace(scanner.Text())
					if q, err := url.ParseQuery(line); err == nil && line != "" {
						mu.Lock()
						filters = append(filters, q)
						mu.Unlock()
						fmt.Println("filter", line)
					}
					conn.Write([]byte("ACK\n"))
				}
				conn.Close()
				mu.Lock()
				connected--
				if connected == 0 {
					select {
					case idle <- struct{}{}:
					default:
					}
				}
				mu.Unlock()
			}()
		}
	}()

	for range idle {
		time.Sleep(reconnection)
		mu.Lock()
		again := connected > 0
		selected := append([]url.Values(nil), filters...)
		mu.Unlock()
		if again {
			continue
		}
		for _, f := range selected {
			removeSelected(f, self)
		}
		return
	}
}
