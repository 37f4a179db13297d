// The operator's central system for the pass-through tests: ocpp-rpc's RPCServer on a
// loopback port. Answers like a simple CSMS (transaction ids from 9000) and appends
// every frame to --log as {"id":chargePointId,"dir":"in"|"out","text":...}.
// Prints {"port":N} once listening. Basic auth is checked when --password is given.
// Usage: node csms.js --port 0 --log FILE [--password P] [--cert FILE --key FILE (wss://)]
'use strict';
const fs = require('fs');
const { RPCServer } = require('ocpp-rpc');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const log = fs.openSync(args.log, 'a');
let nextTx = 9000;

const server = new RPCServer({ protocols: ['ocpp1.6'], strictMode: true });
server.auth((accept, reject, handshake) => {
  if (args.password && (!handshake.password || handshake.password.toString() !== args.password)) {
    reject(401);
    return;
  }
  accept({ id: handshake.identity }, 'ocpp1.6');
});
server.on('client', (client) => {
  const id = client.identity;
  client.on('message', ({ message, outbound }) => {
    fs.writeSync(log, JSON.stringify({ id, dir: outbound ? 'out' : 'in', text: message.toString() }) + '\n');
  });
  const now = () => new Date().toISOString();
  client.handle('Heartbeat', () => ({ currentTime: now() }));
  client.handle('StatusNotification', () => ({}));
  client.handle('MeterValues', () => ({}));
  client.handle('Authorize', () => ({ idTagInfo: { status: 'Accepted' } }));
  client.handle('StartTransaction', () => ({ idTagInfo: { status: 'Accepted' }, transactionId: nextTx++ }));
  client.handle('StopTransaction', () => ({ idTagInfo: { status: 'Accepted' } }));
  client.handle('DataTransfer', () => ({ status: 'Accepted' }));
  // The operator calls the charge point once it booted (frames in the other direction).
  client.handle('BootNotification', async () => {
    setTimeout(() => client.call('GetConfiguration', {}).catch(() => {}), 50);
    return { status: 'Accepted', currentTime: now(), interval: 60 };
  });
});
if (args.cert) {
  // wss://: an https server of our own whose upgrades go to the RPCServer.
  const https = require('https');
  const tls = https.createServer({ cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) });
  tls.on('upgrade', server.handleUpgrade);
  tls.listen(Number(args.port || 0), '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: tls.address().port }) + '\n');
  });
} else {
  server.listen(Number(args.port || 0), '127.0.0.1').then((http) => {
    process.stdout.write(JSON.stringify({ port: http.address().port }) + '\n');
  });
}
process.stdin.on('end', () => server.close({ force: true }).finally(() => process.exit(0)));
process.stdin.resume();
