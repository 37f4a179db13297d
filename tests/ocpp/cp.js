// A charge point for the tests: ocpp-rpc's RPCClient, driven line by line from stdin.
// Each input line is a JSON command; each answer is one JSON line on stdout:
//   {"op":"connect"}                           -> {"ok":true} or {"ok":false,"error":...}
//   {"op":"call","action":"Heartbeat","params":{}} -> {"ok":true,"result":{...}}
//                                                  or {"ok":false,"code":"...","message":"..."}
//   {"op":"close"}                             -> {"ok":true}
// Every frame sent and received is appended to --log as {"dir":"out"|"in","text":...}
// (the pass-through test compares them with the central system's log).
// Usage: node cp.js --url ws://127.0.0.1:PORT/ocpp --id CP-1 [--password P] [--ca FILE] [--log FILE]
'use strict';
const fs = require('fs');
const readline = require('readline');
const { RPCClient } = require('ocpp-rpc');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];

const opts = {
  endpoint: args.url,
  identity: args.id,
  protocols: args.protocol === 'none' ? [] : ['ocpp1.6'],
  strictMode: args.protocol !== 'none',
  reconnect: false,
  callTimeoutMs: 10000,
};
if (args.password) opts.password = args.password;
if (args.ca) opts.wsOpts = { ca: fs.readFileSync(args.ca) };
const client = new RPCClient(opts);
const log = args.log ? fs.openSync(args.log, 'a') : null;
client.on('message', ({ message, outbound }) => {
  if (log !== null) fs.writeSync(log, JSON.stringify({ dir: outbound ? 'out' : 'in', text: message.toString() }) + '\n');
});
client.on('close', ({ code, reason }) => {
  process.stdout.write(JSON.stringify({ event: 'close', code, reason: reason ? reason.toString() : '' }) + '\n');
});
// The central system may call us (pass-through tests): answer what a simple pile would.
client.handle(({ method }) => {
  if (method === 'GetConfiguration') return { configurationKey: [], unknownKey: [] };
  if (method === 'RemoteStartTransaction' || method === 'RemoteStopTransaction') return { status: 'Accepted' };
  if (method === 'TriggerMessage') return { status: 'Accepted' };
  return {};
});

const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const rl = readline.createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on('line', (line) => {
  chain = chain.then(async () => {
    const cmd = JSON.parse(line);
    try {
      if (cmd.op === 'connect') {
        await client.connect();
        say({ ok: true });
      } else if (cmd.op === 'call') {
        const result = await client.call(cmd.action, cmd.params || {});
        say({ ok: true, result });
      } else if (cmd.op === 'close') {
        await client.close({ code: 1000, force: !!cmd.force });
        say({ ok: true });
      } else {
        say({ ok: false, error: 'unknown op' });
      }
    } catch (e) {
      say({ ok: false, code: e.rpcErrorCode || e.code || e.name, message: String(e.message || e),
            status: e.response ? e.response.statusCode : undefined });
    }
  });
});
rl.on('close', () => chain.then(() => client.close({ force: true })).finally(() => process.exit(0)));
