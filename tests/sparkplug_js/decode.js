// Decodes Sparkplug B payloads with Eclipse Tahu's npm sparkplug-payload, the decoder
// Node-RED's Sparkplug nodes use. Input: one JSON line per payload {"b64": "..."} on
// stdin; output: one JSON line each, {"ok": true, "payload": {...}} or {"ok": false,
// "error": "..."} when the decoder throws. 64-bit values (long.js Long objects) are
// written as {"long": "<decimal>"} in the decoder's own signedness, so the test sees
// exactly what a flow would.
'use strict';
const readline = require('readline');
const Long = require('long');
const sparkplug = require('sparkplug-payload').get('spBv1.0');

function plain(v) {
  if (Long.isLong(v)) return { long: v.toString() };
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.map(plain);
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('base64') };
  if (typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v)) o[k] = plain(v[k]);
    return o;
  }
  if (typeof v === 'number' && !Number.isFinite(v)) return { number: String(v) };
  return v;
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const { b64 } = JSON.parse(line);
  let out;
  try {
    out = { ok: true, payload: plain(sparkplug.decodePayload(Buffer.from(b64, 'base64'))) };
  } catch (e) {
    out = { ok: false, error: String(e && e.message ? e.message : e) };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
});
