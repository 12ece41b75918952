import dns2 from 'dns2';

const { Packet } = dns2;

/** What the test DNS server answers for one name. */
export interface Zone {
  mx?: { priority: number; exchange: string }[];
  a?: string[];
  aaaa?: string[];
  /** Answer with this error code instead (e.g. SERVFAIL). */
  rcode?: number;
  /** Never answer: a resolver that has gone quiet. */
  silent?: boolean;
}

export interface TestDnsServer {
  /** `127.0.0.1:port`, for EMAIL_DNS_SERVERS or `setServers`. */
  address: string;
  /** Queries received per `name/TYPE`. */
  queries: Map<string, number>;
  queryCount(name?: string): number;
  close(): Promise<void>;
}

/**
 * A real DNS server on loopback (UDP) speaking the wire protocol. A name missing from `zones`
 * answers NXDOMAIN; a zone without records of the asked type answers NOERROR with no answers (NODATA).
 */
export async function startDnsServer(zones: Record<string, Zone>): Promise<TestDnsServer> {
  const queries = new Map<string, number>();
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const [question] = request.questions;
      if (!question) return;
      const name = question.name.toLowerCase().replace(/\.$/, '');
      const type = Packet.typeName(question.type);
      queries.set(`${name}/${type}`, (queries.get(`${name}/${type}`) ?? 0) + 1);
      const zone = zones[name];
      if (zone?.silent) return;
      if (!zone) return void send(Packet.createErrorResponseFromRequest(request, Packet.RCODE.NXDOMAIN));
      if (zone.rcode !== undefined) return void send(Packet.createErrorResponseFromRequest(request, zone.rcode));
      const response = Packet.createResponseFromRequest(request);
      const answer = (record: Record<string, unknown>) => response.answers.push(Packet.createResourceFromQuestion(question, { ttl: 300, ...record }));
      if (question.type === Packet.TYPE.MX) for (const mx of zone.mx ?? []) answer({ priority: mx.priority, exchange: mx.exchange });
      if (question.type === Packet.TYPE.A) for (const address of zone.a ?? []) answer({ address });
      if (question.type === Packet.TYPE.AAAA) for (const address of zone.aaaa ?? []) answer({ address });
      void send(response);
    },
  });
  const addresses = await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  const port = addresses.udp!.port;
  return {
    address: `127.0.0.1:${port}`,
    queries,
    queryCount: (name?: string) => [...queries].filter(([k]) => name === undefined || k.startsWith(`${name}/`)).reduce((n, [, c]) => n + c, 0),
    close: () => server.close(),
  };
}

/** The zones the issue names: MX, null MX, A only, NXDOMAIN (absent), SERVFAIL and a silent server. */
export const STANDARD_ZONES: Record<string, Zone> = {
  'good.test': { mx: [{ priority: 10, exchange: 'mx.good.test' }] },
  'nullmx.test': { mx: [{ priority: 0, exchange: '' }] },
  'aonly.test': { a: ['192.0.2.10'] },
  'nomail.test': {},
  'servfail.test': { rcode: Packet.RCODE.SERVFAIL },
  'slow.test': { silent: true },
  'xn--mller-kva.test': { mx: [{ priority: 10, exchange: 'mx.good.test' }] },
};
