// What the interop peers that stand in for the DHT relay share
// (conn-peer.js, wire-live.js): lines read from stdin, and hyperdht's
// PEER_HANDSHAKE (NoiseWrap, Noise IK) run with the C++ peer as stdout/stdin
// lines: initiator "> m1 <hex>", "< m2 <hex>"; responder the other way.
'use strict'
const b4a = require('b4a')
const NoiseWrap = require('hyperdht/lib/noise-wrap')

// Every line of stdin, in order, for readLine().
const lines = []
const waiters = []
let stdinBuf = ''
process.stdin.on('data', (d) => {
  stdinBuf += d
  let i
  while ((i = stdinBuf.indexOf('\n')) !== -1) {
    const line = stdinBuf.slice(0, i)
    stdinBuf = stdinBuf.slice(i + 1)
    if (waiters.length) waiters.shift()(line)
    else lines.push(line)
  }
})

// The next line of stdin (without its newline).
const readLine = () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((resolve) => waiters.push(resolve)))

// Runs the Noise IK with `payload` as ours. Returns the peer's payload, its
// public key, and the handshake secret-stream starts from ({ handshake }).
async function noiseOverLines (keyPair, isInitiator, expectedRemote, payload) {
  const wrap = new NoiseWrap(keyPair, isInitiator ? expectedRemote : null)
  let remotePayload
  if (isInitiator) {
    process.stdout.write('m1 ' + b4a.toString(wrap.send(payload), 'hex') + '\n')
    remotePayload = wrap.recv(b4a.from((await readLine()).slice(3), 'hex'))
  } else {
    remotePayload = wrap.recv(b4a.from((await readLine()).slice(3), 'hex'))
    process.stdout.write('m2 ' + b4a.toString(wrap.send(payload), 'hex') + '\n')
  }
  const h = wrap.final()
  return {
    remotePayload,
    remotePublicKey: wrap.remotePublicKey,
    handshake: { tx: h.tx, rx: h.rx, hash: h.hash, publicKey: h.publicKey, remotePublicKey: h.remotePublicKey }
  }
}

module.exports = { readLine, noiseOverLines }
