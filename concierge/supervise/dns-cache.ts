import type { InstanceSpec } from '../instance/spec.js';
import { dnsCacheAddress, dnsCachePort } from '../dns/address.js';
import { CachingResolver } from '../dns/resolver.js';
import { listenDns, type DnsServer } from '../dns/server.js';

/**
 * The guest's DNS cache, forwarding to the spec's DNS servers, on the address the boot put on lo and
 * wrote into /etc/resolv.conf. None when the spec names no DNS server.
 */
export async function startDnsCache(spec: InstanceSpec): Promise<DnsServer | undefined> {
  if (spec.network.dns.length === 0) return undefined;
  const resolver = new CachingResolver({ servers: spec.network.dns.map((d) => ({ address: d.text, port: 53 })) });
  return listenDns(resolver, dnsCacheAddress, dnsCachePort);
}
