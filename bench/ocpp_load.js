// Load generator for bench/ocpp_bench.py: N charge points (ocpp-rpc RPCClient, from
// tests/ocpp/node_modules) connect to the gateway, boot, report Available and start a
// transaction; on the line "go" on stdin each sends MeterValues every INTERVAL ms for
// SECONDS seconds, one call at a time as OCPP requires. Prints JSON lines:
// {"connected": N, "connect_s": ...} then {"calls": ..., "errors": ..., "seconds": ...,
// "p50_ms": ..., "p99_ms": ...}.
// Usage: node ocpp_load.js URL COUNT INTERVAL_MS SECONDS
'use strict';
const path = require('path');
const readline = require('readline');
const { RPCClient } = require(path.join(__dirname, '..', 'tests', 'ocpp', 'node_modules', 'ocpp-rpc'));

const [url, count, intervalMs, seconds] = [process.argv[2], +process.argv[3], +process.argv[4], +process.argv[5]];
const clients = [];
const now = () => new Date().toISOString();

async function bring(i) {
  const id = 'BENCH-' + String(i).padStart(3, '0');
  const c = new RPCClient({ endpoint: url, identity: id, protocols: ['ocpp1.6'], strictMode: true, reconnect: false,
                            callTimeoutMs: 30000 });
  await c.connect();
  await c.call('BootNotification', { chargePointVendor: 'Bench', chargePointModel: 'AC7' });
  await c.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging' });
  const r = await c.call('StartTransaction', { connectorId: 1, idTag: 'CARD' + i, meterStart: 0, timestamp: now() });
  clients.push({ c, tx: r.transactionId, energy: 0 });
}

async function main() {
  const t0 = Date.now();
  for (let i = 0; i < count; i += 20) {
    await Promise.all(Array.from({ length: Math.min(20, count - i) }, (_, k) => bring(i + k)));
  }
  process.stdout.write(JSON.stringify({ connected: clients.length, connect_s: (Date.now() - t0) / 1000 }) + '\n');
  await new Promise((res) => readline.createInterface({ input: process.stdin }).once('line', res));
  const lat = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  const start = Date.now();
  await Promise.all(clients.map(async (s, i) => {
    await new Promise((r) => setTimeout(r, (i * intervalMs) / clients.length));  // spread the phases
    let next = Date.now();
    while (Date.now() < end) {
      s.energy += 19;  // 7 kW for 10 s of demo time, in Wh
      const t = Date.now();
      try {
        await s.c.call('MeterValues', { connectorId: 1, transactionId: s.tx, meterValue: [{ timestamp: now(),
          sampledValue: [{ value: '7000', measurand: 'Power.Active.Import', unit: 'W' },
                         { value: String(s.energy), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }] });
        lat.push(Date.now() - t);
      } catch (e) {
        errors++;
      }
      next += intervalMs;
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }));
  const took = (Date.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p) => lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : null;
  process.stdout.write(JSON.stringify({ calls: lat.length, errors, seconds: took, p50_ms: q(0.5), p99_ms: q(0.99) }) + '\n');
  await Promise.all(clients.map((s) => s.c.close({ force: true })));
  process.exit(0);
}
main().catch((e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(1); });
