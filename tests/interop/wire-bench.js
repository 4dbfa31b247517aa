// JS side of bench/wire: the same figures as bench_wire measures for the C++
// core, taken with @hyperswarm/secret-stream (sodium-native) and hyperdht's
// NoiseWrap in this process. Prints one JSON line.
//   throughput: two secret-streams joined in memory (their raw bridges piped
//               together), one writes, the other reads: encrypt + frame +
//               parse + decrypt per message
//   handshakes: hyperdht PEER_HANDSHAKE (Noise IK, both sides) and
//               secret-stream's own XX (two streams to 'connect')
'use strict'
const b4a = require('b4a')
const NoiseSecretStream = require('@hyperswarm/secret-stream')
const NoiseWrap = require('hyperdht/lib/noise-wrap')

const seconds = Number(process.argv[2] || 1)

function ikPair () {
  const a = NoiseSecretStream.keyPair()
  const b = NoiseSecretStream.keyPair()
  const i = new NoiseWrap(a, b.publicKey)
  const r = new NoiseWrap(b, null)
  r.recv(i.send({ error: 0, firewall: 0 }))
  i.recv(r.send({ error: 0, firewall: 0 }))
  return [i.final(), r.final()]
}

function connectedPair () {
  const [fi, fr] = ikPair()
  const a = new NoiseSecretStream(true, null, { handshake: fi })
  const b = new NoiseSecretStream(false, null, { handshake: fr })
  a.rawStream.pipe(b.rawStream).pipe(a.rawStream)
  return [a, b]
}

async function throughput (size) {
  const [a, b] = connectedPair()
  await Promise.all([a.opened, b.opened])
  const msg = b4a.alloc(size, 0x61)
  let received = 0
  b.on('data', () => { received++ })
  const start = process.hrtime.bigint()
  const until = start + BigInt(Math.round(seconds * 1e9))
  let sent = 0
  while (process.hrtime.bigint() < until) {
    for (let i = 0; i < 64; i++) {
      sent++
      if (!a.write(msg)) await new Promise((resolve) => a.once('drain', resolve))
    }
  }
  while (received < sent) await new Promise((resolve) => setImmediate(resolve))
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9
  a.destroy()
  b.destroy()
  return { messagesPerSecond: received / elapsed, bytesPerSecond: (received * size) / elapsed }
}

function ikHandshakes () {
  const start = process.hrtime.bigint()
  const until = start + BigInt(Math.round(seconds * 1e9))
  let n = 0
  while (process.hrtime.bigint() < until) {
    ikPair()
    n++
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9)
}

async function xxHandshakes () {
  const ka = NoiseSecretStream.keyPair()
  const kb = NoiseSecretStream.keyPair()
  const start = process.hrtime.bigint()
  const until = start + BigInt(Math.round(seconds * 1e9))
  let n = 0
  while (process.hrtime.bigint() < until) {
    const a = new NoiseSecretStream(true, null, { keyPair: ka })
    const b = new NoiseSecretStream(false, null, { keyPair: kb })
    a.rawStream.pipe(b.rawStream).pipe(a.rawStream)
    await Promise.all([a.opened, b.opened])
    a.destroy()
    b.destroy()
    n++
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9)
}

async function main () {
  const out = { throughput: {} }
  for (const size of [64, 512, 65536]) out.throughput[size] = await throughput(size)
  out.ikHandshakesPerSecond = ikHandshakes()
  out.xxHandshakesPerSecond = await xxHandshakes()
  process.stdout.write(JSON.stringify(out) + '\n')
}

main().catch((err) => { console.error(err); process.exit(1) })
