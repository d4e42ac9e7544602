// A test-only reference for concierge's request reading: Go's net/http server with a gorilla/mux
// router registered as dockerd 20.10's createMux registers its routes (each route under
// /v{version:[0-9.]+} and bare; debug routes for every method; the version catch-all; "page not
// found" for what matches nothing). Each request is answered with what a dockerd handler would see:
// method, route, vars, Request.Form after ParseForm (and its error) and the body left to read.
// Built by the property test from Debian's golang-go and golang-github-gorilla-mux-dev; never shipped.
package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/gorilla/mux"
)

type seen struct {
	Route     string              `json:"route"`
	Method    string              `json:"method"`
	Vars      map[string]string   `json:"vars"`
	Form      map[string][]string `json:"form"`
	FormError string              `json:"formError"`
	Body      string              `json:"body"`
	BodyError string              `json:"bodyError"`
	Close     bool                `json:"close"`
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func handler(route string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out := seen{Route: route, Method: r.Method, Vars: map[string]string{}, Form: map[string][]string{}, Close: r.Close}
		for k, v := range mux.Vars(r) {
			out.Vars[k] = b64(v)
		}
		if err := r.ParseForm(); err != nil && !strings.HasPrefix(err.Error(), "mime:") {
			out.FormError = err.Error()
		}
		for k, vs := range r.Form {
			for _, v := range vs {
				out.Form[b64(k)] = append(out.Form[b64(k)], b64(v))
			}
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			out.BodyError = err.Error()
		}
		out.Body = b64(string(body))
		// In a header, so that answers to HEAD carry it too.
		raw, _ := json.Marshal(out)
		w.Header().Set("X-Seen", base64.StdEncoding.EncodeToString(raw))
		w.WriteHeader(http.StatusOK)
	}
}

func main() {
	var routes []string
	raw, err := os.ReadFile(os.Args[2])
	if err != nil {
		panic(err)
	}
	if err := json.Unmarshal(raw, &routes); err != nil {
		panic(err)
	}
	const versionMatcher = "/v{version:[0-9.]+}"
	m := mux.NewRouter()
	for _, entry := range routes {
		method, path, _ := strings.Cut(entry, " ")
		if method == "ANY" {
			m.Path(path).Handler(handler(path))
			continue
		}
		m.Path(versionMatcher + path).Methods(method).Handler(handler(entry))
		m.Path(path).Methods(method).Handler(handler(entry))
	}
	notFound := handler("not-found")
	m.HandleFunc(versionMatcher+"/{path:.*}", notFound)
	m.NotFoundHandler = notFound
	m.MethodNotAllowedHandler = notFound
	os.Remove(os.Args[1])
	l, err := net.Listen("unix", os.Args[1])
	if err != nil {
		panic(err)
	}
	_ = (&http.Server{Handler: m}).Serve(l)
}
