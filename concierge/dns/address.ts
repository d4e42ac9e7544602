/**
 * Where the guest's DNS cache answers: a dedicated address on the guest's `lo`, outside 127.0.0.0/8.
 * - Not a loopback address: dockerd drops nameservers matching 127.x and ::1 from the resolv.conf it
 *   gives containers, and a container in its own network namespace cannot reach the guest's
 *   loopback. This address it reaches through its default route (the bridge gateway is the guest,
 *   which delivers to any of its local addresses), and docker's embedded DNS on user-defined
 *   networks, which forwards from the container's namespace, reaches it the same way.
 * - Not the guest's eth0 address: it exists whatever the spec's interfaces are, does not move when
 *   they change, and nothing outside the guest routes to it, so the cache is no open resolver on
 *   the network the guest sits on.
 * - On `lo`, not on a dummy interface: no module to load (the dummy driver is one in Debian's kernel).
 * Link-local (169.254/16): no network a guest joins assigns it as a route target for 169.254.53.53.
 */
export const dnsCacheAddress = '169.254.53.53';
export const dnsCachePort = 53;
