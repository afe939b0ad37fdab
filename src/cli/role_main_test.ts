import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { UsageError } from "./cli.ts";
import { parseRoleArgs } from "./role_main.ts";

const BASE = ["peer", "--genesis", "g.json", "--key", "k.json", "--data-dir", "d"];
const PEER = "12D3KooWGzh7p7dHwgxdkmY3nqcsnBcRrWpLDaJ8BfKyWbcyPAhz";

Deno.test("parseRoleArgs takes public listen, announce and bootstrap addresses and a metrics port", () => {
  const a = parseRoleArgs([
    ...BASE,
    ...["--listen", "/ip4/0.0.0.0/tcp/4001", "--listen", "/ip4/0.0.0.0/tcp/4002/ws"],
    ...[
      "--announce",
      "/ip4/203.0.113.5/tcp/4001",
      "--announce",
      "/dns4/node.example.org/tcp/443/wss",
    ],
    ...["--bootstrap", `/ip4/198.51.100.7/tcp/4001/p2p/${PEER}`, "--bootstrap-timeout", "2.5"],
    ...["--metrics", "9464"],
  ]);
  assertEquals(a.listen, ["/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/tcp/4002/ws"]);
  assertEquals(a.announce, ["/ip4/203.0.113.5/tcp/4001", "/dns4/node.example.org/tcp/443/wss"]);
  assertEquals(a.bootstrap, [`/ip4/198.51.100.7/tcp/4001/p2p/${PEER}`]);
  assertEquals(a.bootstrapTimeoutMs, 2500);
  assertEquals(a.metrics, { hostname: "127.0.0.1", port: 9464 });
  const d = parseRoleArgs(BASE);
  assertEquals([d.listen, d.announce, d.bootstrap, d.metrics, d.bootstrapTimeoutMs], [
    [],
    [],
    [],
    null,
    30_000,
  ]);
});

Deno.test("parseRoleArgs names the flag and the expected form of a bad address", () => {
  const cases: [string, string, string][] = [
    ["--listen", "0.0.0.0:4001", "not a multiaddr"],
    ["--listen", "/dns4/node.example.org/tcp/4001", "it must start with /ip4, /ip6"],
    ["--listen", "/ip4/0.0.0.0/udp/4001", "followed by /tcp/PORT"],
    ["--announce", "/ip4/203.0.113.5/tcp/0", "port 0 cannot be dialed"],
    ["--bootstrap", "/ip4/198.51.100.7/tcp/4001", "it must end with /p2p/<peer id of that node>"],
    ["--bootstrap", "/ip4/198.51.100.7/tcp/4001/p2p/nope", "bad peer id nope"],
  ];
  for (const [flag, value, why] of cases) {
    const e = assertThrows(() => parseRoleArgs([...BASE, flag, value]), UsageError);
    assert(e.message.startsWith(`${flag}: expected a multiaddr like /`), e.message);
    assert(e.message.includes(`got "${value}"`) && e.message.includes(why), e.message);
  }
  assertThrows(() => parseRoleArgs([...BASE, "--metrics", "x"]), UsageError, "--metrics: expected");
  assertThrows(
    () => parseRoleArgs([...BASE, "--bootstrap-timeout", "0"]),
    UsageError,
    "--bootstrap-timeout",
  );
});

Deno.test("parseRoleArgs takes --listen none alone, without --announce", () => {
  const a = parseRoleArgs([
    ...BASE,
    "--listen",
    "none",
    "--bootstrap",
    `/ip4/198.51.100.7/tcp/4001/p2p/${PEER}`,
  ]);
  assertEquals([a.dialOnly, a.listen], [true, []]);
  assertEquals(parseRoleArgs(BASE).dialOnly, false);
  assertThrows(
    () => parseRoleArgs([...BASE, "--listen", "none", "--listen", "/ip4/0.0.0.0/tcp/4001"]),
    UsageError,
    "--listen none means no listening port: give it alone",
  );
  assertThrows(
    () => parseRoleArgs([...BASE, "--listen", "none", "--announce", "/ip4/203.0.113.5/tcp/4001"]),
    UsageError,
    "--announce needs a listening port",
  );
});
