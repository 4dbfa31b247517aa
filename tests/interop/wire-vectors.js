// Prints, as one JSON line, byte vectors of the JS wire stack for the C++
// tests: compact-encoding codecs, hypercore-crypto namespaces, hyperdht's
// noise payload, the PEER_HANDSHAKE Noise IK (NoiseWrap), secret-stream's own
// Noise XX and the secret-stream wire bytes. Keys, ephemerals, the
// secretstream header and the unordered-send counter are fixed, so the output
// is the same on every run (tests/wire/vectors.json is this output).
'use strict'
const c = require('compact-encoding')
const net = require('compact-encoding-net')
const b4a = require('b4a')
const sodium = require('sodium-universal')
const crypto = require('hypercore-crypto')
const curve = require('noise-curve-ed')
const Noise = require('noise-handshake')
const NoiseSecretStream = require('@hyperswarm/secret-stream')
const NoiseWrap = require('hyperdht/lib/noise-wrap')
const m = require('hyperdht/lib/messages')
const { NS } = require('hyperdht/lib/constants')

const hex = (b) => b4a.toString(b, 'hex')
const seed = (n) => b4a.alloc(32, n)
const kp = (n) => curve.generateKeyPair(seed(n))

function codecVectors () {
  const out = []
  const add = (codec, value, enc, json = value) => out.push({ codec, value: json, hex: hex(c.encode(enc, value)) })
  for (const n of [0, 1, 0xfc, 0xfd, 0xfe, 0xff, 0x1234, 0xffff, 0x10000, 0xffffffff, 0x100000000, 2 ** 53 - 1]) add('uint', n, c.uint)
  for (const n of [0, -1, 1, -2, 126, -127, 1000, -70000, 2 ** 52 - 1, -(2 ** 52)]) add('int', n, c.int)
  for (const n of [0, 0x7f, 0xff]) add('uint8', n, c.uint8)
  for (const n of [0, 0x1234, 0xffff]) add('uint16', n, c.uint16)
  for (const n of [0, 0x123456, 0xffffff]) add('uint24', n, c.uint24)
  for (const n of [0, 0x12345678, 0xffffffff]) add('uint32', n, c.uint32)
  for (const n of [0, 0x123456789a, 2 ** 53 - 1]) add('uint64', n, c.uint64)
  for (const b of [false, true]) add('bool', b, c.bool)
  for (const h of ['', '00', 'deadbeef', 'ab'.repeat(300)]) add('buffer', b4a.from(h, 'hex'), c.buffer, h)
  for (const s of ['', 'hello', 'héllo wörld ✓ 𝄞', 'x'.repeat(70)]) add('utf8', s, c.utf8)
  add('fixed32', b4a.alloc(32, 7), c.fixed32, hex(b4a.alloc(32, 7)))
  add('fixed64', b4a.alloc(64, 9), c.fixed64, hex(b4a.alloc(64, 9)))
  for (const a of [[], [1, 2, 300, 70000]]) add('uint_array', a, c.array(c.uint))
  for (const a of [{ host: '127.0.0.1', port: 49737 }, { host: '10.0.255.1', port: 0 }]) add('ipv4_address', a, net.ipv4Address)
  for (const a of [{ host: '::1', port: 1 }, { host: 'fe80::1:2', port: 65535 }, { host: '2001:db8:0:0:1:0:0:1', port: 443 }]) {
    out.push({ codec: 'ipv6_address', value: { host: a.host, port: a.port, decoded: net.ipv6Address.decode({ start: 0, end: 18, buffer: c.encode(net.ipv6Address, a) }).host }, hex: hex(c.encode(net.ipv6Address, a)) })
  }
  return out
}

function payloadVectors () {
  const full = {
    error: 0,
    firewall: 2,
    holepunch: { id: 7, relays: [{ relayAddress: { host: '1.2.3.4', port: 10 }, peerAddress: { host: '5.6.7.8', port: 20 } }] },
    addresses4: [{ host: '192.168.1.2', port: 1234 }, { host: '10.0.0.1', port: 65535 }],
    addresses6: [{ host: 'fe80::1', port: 9 }],
    udx: { reusableSocket: true, id: 300, seq: 0 },
    secretStream: {},
    relayThrough: { publicKey: b4a.alloc(32, 1), token: b4a.alloc(32, 2) },
    relayAddresses: [{ host: '8.8.8.8', port: 53 }]
  }
  const minimal = { error: 0, firewall: 1 }
  const server = { error: 0, firewall: 1, udx: { reusableSocket: false, id: 1, seq: 0 }, secretStream: {}, addresses4: [{ host: '127.0.0.1', port: 40000 }] }
  const enc = (p) => hex(c.encode(m.noisePayload, p))
  return { full: enc(full), minimal: enc(minimal), server: enc(server), error: enc({ error: 3, firewall: 0 }) }
}

function ikVectors () {
  const client = kp(1)
  const server = kp(2)
  const clientE = kp(3)
  const serverE = kp(4)
  const payloadA = { error: 0, firewall: 1, udx: { reusableSocket: false, id: 5, seq: 0 }, secretStream: {}, addresses4: [{ host: '127.0.0.1', port: 4000 }] }
  const payloadB = { error: 0, firewall: 2, udx: { reusableSocket: true, id: 6, seq: 0 }, secretStream: {}, holepunch: { id: 1, relays: [] } }

  const a = new NoiseWrap(client, server.publicKey)
  const b = new NoiseWrap(server, null)
  a.handshake.e = clientE
  b.handshake.e = serverE
  // Hex the messages as soon as they exist: the receiver keeps the ephemeral
  // key as a view into the message and zeroes it when the handshake ends.
  const m1 = a.send(payloadA)
  const m1hex = hex(m1)
  b.recv(m1)
  const m2 = b.send(payloadB)
  const m2hex = hex(m2)
  a.recv(m2)
  const fa = a.final()
  const fb = b.final()
  const res = (f) => ({
    tx: hex(f.tx), rx: hex(f.rx), hash: hex(f.hash), publicKey: hex(f.publicKey), remotePublicKey: hex(f.remotePublicKey),
    holepunchSecret: hex(f.holepunchSecret), streamId: hex(NoiseSecretStream.id(f.hash, f.isInitiator)), remoteId: hex(f.remoteId)
  })
  return {
    clientSeed: hex(seed(1)), serverSeed: hex(seed(2)), clientEphemeralSeed: hex(seed(3)), serverEphemeralSeed: hex(seed(4)),
    clientPublicKey: hex(client.publicKey), serverPublicKey: hex(server.publicKey),
    payloadA: hex(c.encode(m.noisePayload, payloadA)), payloadB: hex(c.encode(m.noisePayload, payloadB)),
    m1: m1hex, m2: m2hex, initiator: res(fa), responder: res(fb)
  }
}

function xxVectors () {
  const ikp = kp(5)
  const rkp = kp(6)
  const a = new Noise('XX', true, ikp, { curve })
  const b = new Noise('XX', false, rkp, { curve })
  a.initialise(b4a.alloc(0))
  b.initialise(b4a.alloc(0))
  a.e = kp(7)
  b.e = kp(8)
  const m1 = hex(a.send())
  b.recv(b4a.from(m1, 'hex'))
  const m2 = hex(b.send())
  a.recv(b4a.from(m2, 'hex'))
  const m3 = hex(a.send())
  b.recv(b4a.from(m3, 'hex'))
  return {
    initiatorSeed: hex(seed(5)), responderSeed: hex(seed(6)), initiatorEphemeralSeed: hex(seed(7)), responderEphemeralSeed: hex(seed(8)),
    m1, m2, m3,
    initiator: { tx: hex(a.tx), rx: hex(a.rx), hash: hex(a.hash) },
    responder: { tx: hex(b.tx), rx: hex(b.rx), hash: hex(b.hash) }
  }
}

async function streamVectors (ik) {
  const fromHex = (h) => b4a.from(h, 'hex')
  const handshake = {
    tx: fromHex(ik.initiator.tx), rx: fromHex(ik.initiator.rx), hash: fromHex(ik.initiator.hash),
    publicKey: fromHex(ik.initiator.publicKey), remotePublicKey: fromHex(ik.initiator.remotePublicKey)
  }
  const s = new NoiseSecretStream(true, null, { handshake })
  // Fix the secretstream header: init_pull derives the same state init_push
  // would have from this header, and the queued header frame shares memory
  // with s._encrypt.header.
  const header = b4a.alloc(24, 0x42)
  sodium.crypto_secretstream_xchacha20poly1305_init_pull(s._encrypt.state, header, s._encrypt.key)
  s._encrypt.header.set(header)
  const counter = b4a.from('fffffffffffffffe', 'hex')
  s._sendState.subarray(64, 72).set(counter)
  s._sendState.subarray(72).set(counter)

  const messages = [b4a.alloc(0), b4a.from('hello'), b4a.alloc(1000, 0xaa), b4a.alloc(0), b4a.alloc(70000, 0x01)]
  const chunks = []
  s.rawStream.on('data', (d) => chunks.push(b4a.from(d)))
  for (const msg of messages) s.write(msg)
  const expected = 3 + 56 + messages.reduce((n, msg) => n + 3 + 17 + msg.byteLength, 0)
  await new Promise((resolve) => {
    const check = () => (b4a.concat(chunks).byteLength >= expected ? resolve() : setTimeout(check, 5))
    check()
  })
  const wire = b4a.concat(chunks)
  const boxed = [b4a.from('datagram one'), b4a.alloc(0)].map((d) => hex(s._boxMessage(d)))
  s.destroy()
  return {
    header: hex(header), sendCounter: hex(counter),
    messages: messages.map(hex), wire: hex(wire), boxed, boxedPlain: [hex(b4a.from('datagram one')), '']
  }
}

async function main () {
  const ik = ikVectors()
  const out = {
    codecs: codecVectors(),
    namespaces: {
      peerHandshake: hex(NS.PEER_HANDSHAKE),
      peerHolepunch: hex(NS.PEER_HOLEPUNCH),
      streamInitiator: hex(crypto.namespace('hyperswarm/secret-stream', 3)[0]),
      streamResponder: hex(crypto.namespace('hyperswarm/secret-stream', 3)[1]),
      streamSend: hex(crypto.namespace('hyperswarm/secret-stream', 3)[2])
    },
    keypairs: [1, 2].map((n) => ({ seed: hex(seed(n)), publicKey: hex(kp(n).publicKey), secretKey: hex(kp(n).secretKey) })),
    payloads: payloadVectors(),
    ik,
    xx: xxVectors(),
    stream: await streamVectors(ik)
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}

main().catch((err) => { console.error(err); process.exit(1) })
