import ipaddr from 'ipaddr.js';

/**
 * Which network addresses an outgoing request may connect to. By default only public unicast addresses:
 * a URL a writer (or anyone able to write one) hands the server must not reach the server's own network,
 * its loopback services, or the cloud metadata endpoint. IPv4-mapped IPv6 addresses are judged as the IPv4
 * address they carry, so `::ffff:127.0.0.1` is loopback.
 */
export interface AddressPolicy {
  /** Why the address is refused (a short phrase a person can read), or undefined when it is allowed. */
  refuse(address: string): string | undefined;
}

const RANGE_NAMES: Record<string, string> = {
  unspecified: 'an unspecified address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address',
  loopback: 'a loopback address (this server itself)',
  carrierGradeNat: 'a carrier-grade NAT address',
  private: 'a private network address',
  uniqueLocal: 'a private network address',
  reserved: 'a reserved address',
};

/** Ranges a private-network deployment may reach when the operator allows it. */
const PRIVATE_RANGES = new Set(['private', 'uniqueLocal', 'loopback', 'linkLocal', 'carrierGradeNat']);

/** Cloud instance metadata services: credentials live there, so they are never reachable. */
const METADATA_ADDRESSES = new Set(['169.254.169.254', '169.254.170.2', '100.100.100.200', 'fd00:ec2::254']);

/** The range an address falls in, as ipaddr.js names it ('unicast' for ordinary public addresses), and its compact spelling. */
export function addressRange(address: string): { range: string; normalized: string } | undefined {
  if (!ipaddr.isValid(address)) return undefined;
  const parsed = ipaddr.process(address);
  return { range: parsed.range(), normalized: parsed.toString() };
}

/**
 * The policy for outgoing requests: public unicast only, or, when `allowPrivate` is set (an intranet
 * deployment), private, loopback, link-local and CGNAT ranges too. Metadata endpoints, multicast,
 * broadcast, unspecified and reserved addresses are refused either way.
 */
export function outgoingAddressPolicy(options: { allowPrivate?: boolean } = {}): AddressPolicy {
  return {
    refuse(address) {
      const found = addressRange(address);
      if (!found) return 'not an IP address';
      if (METADATA_ADDRESSES.has(found.normalized)) return 'a cloud metadata address';
      if (found.range === 'unicast') return undefined;
      if (options.allowPrivate && PRIVATE_RANGES.has(found.range)) return undefined;
      return RANGE_NAMES[found.range] ?? `a special-purpose address (${found.range})`;
    },
  };
}
