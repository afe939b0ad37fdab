import { assertEquals } from "../testing/assert.ts";
import { addressProblem, dialableAddress, tcpPort } from "./address_rules.ts";

const A = "12D3KooWGzh7p7dHwgxdkmY3nqcsnBcRrWpLDaJ8BfKyWbcyPAhz";
const B = "12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK";

Deno.test("dialableAddress keeps host, port and ws, strips the own /p2p/, drops the rest", () => {
  assertEquals(dialableAddress(A, `/ip4/127.0.0.1/tcp/4001/p2p/${A}`), "/ip4/127.0.0.1/tcp/4001");
  assertEquals(
    dialableAddress(A, "/dns4/node.example.org/tcp/443/wss"),
    "/dns4/node.example.org/tcp/443/wss",
  );
  assertEquals(dialableAddress(A, "/ip6/::1/tcp/4002/ws"), "/ip6/::1/tcp/4002/ws");
  assertEquals(dialableAddress(A, `/ip6/::1/tcp/4002/ws/p2p/${A}`), "/ip6/::1/tcp/4002/ws");
  for (
    const bad of [
      `/ip4/127.0.0.1/tcp/4001/p2p/${B}`, // someone else's
      "/ip4/0.0.0.0/tcp/4001", // not yet expanded
      "/ip4/127.0.0.1/tcp/0",
      "/ip4/127.0.0.1/udp/4001/quic-v1",
      `/ip4/127.0.0.1/tcp/4001/p2p/${B}/p2p-circuit`,
      "/ip4/127.0.0.1/tcp/4001/tls/ws", // a form no webloco node lists
      "not a multiaddr",
    ]
  ) assertEquals(dialableAddress(A, bad), null, bad);
});

Deno.test("addressProblem says what is wrong for each use, as dialableAddress judges a peer's", () => {
  const cases: [Parameters<typeof addressProblem>[0], string, string | null][] = [
    ["listen", "/ip4/0.0.0.0/tcp/4001", null],
    ["listen", "/ip4/0.0.0.0/tcp/0/ws", null],
    ["listen", "/dns4/node.example.org/tcp/4001", "it must start with /ip4, /ip6"],
    ["listen", "/ip4/0.0.0.0/tcp/4001/wss", "unexpected /wss"],
    ["listen", `/ip4/0.0.0.0/tcp/4001/p2p/${A}`, "a listen address has no /p2p/ part"],
    ["listen", "/ip4/0.0.0.0/udp/4001", "the host must be followed by /tcp/PORT"],
    ["announce", "/dns4/node.example.org/tcp/443/wss", null],
    ["announce", "/ip4/203.0.113.5/tcp/0", "port 0 cannot be dialed"],
    ["announce", "/ip4/0.0.0.0/tcp/4001", "0.0.0.0 is not an address others can dial"],
    ["bootstrap", `/ip4/198.51.100.7/tcp/4001/p2p/${A}`, null],
    ["bootstrap", "/ip4/198.51.100.7/tcp/4001", "it must end with /p2p/<peer id of that node>"],
    ["bootstrap", "/ip4/198.51.100.7/tcp/4001/p2p/nope", "bad peer id nope"],
    ["bootstrap", `/ip4/198.51.100.7/tcp/4001/p2p/${A}/p2p-circuit`, "unexpected /p2p-circuit"],
    ["peer", "/ip4/198.51.100.7/tcp/4001", null],
    ["peer", `/ip4/198.51.100.7/tcp/4001/p2p/${B}`, "it names another peer"],
  ];
  for (const [use, text, why] of cases) assertEquals(addressProblem(use, text), why, text);
  assertEquals(addressProblem("listen", "0.0.0.0:4001")?.startsWith("not a multiaddr"), true);
  assertEquals([tcpPort("/ip4/1.2.3.4/tcp/4001/ws"), tcpPort("/ip4/1.2.3.4/udp/1"), tcpPort("x")], [
    4001,
    null,
    null,
  ]);
});
