// Prints, as one JSON line, the vectors of hyperdht 6.34.0's own code for the
// C++ hyperdht layer (tests/hyperdht/vectors.json is this output):
//  - messages: lib/messages.js encodings of every body that travels in a
//    dht-rpc value (handshake, holepunch, peer, lookupRawReply, announce,
//    mutable put/get, holepunchPayload), as {codec, value, hex};
//  - signatures: Persistent.signAnnounce / signUnannounce / signMutable for
//    fixed keys, targets, tokens and node ids;
//  - secure: SecurePayload (lib/secure-payload.js) with the holepunch secret
//    of a NoiseWrap handshake with fixed keys, its nonce and local secret
//    fixed by stubbing sodium.randombytes_buf for the duration of the call;
//  - scenario: lib/persistent.js and lib/router.js driven with stub requests
//    (the dht-rpc Request's reply/error/relay recorded), step by step: what
//    hyperdht answers, relays or drops. Caches get maxAge 0 (no timers).
// Everything is fixed, so the output is the same on every run.
'use strict'
const c = require('compact-encoding')
const b4a = require('b4a')
const sodium = require('sodium-universal')
const curve = require('noise-curve-ed')
const m = require('hyperdht/lib/messages')
const { NS, COMMANDS } = require('hyperdht/lib/constants')
const { createKeyPair, hash } = require('hyperdht/lib/crypto')
const Persistent = require('hyperdht/lib/persistent')
const Router = require('hyperdht/lib/router')
const NoiseWrap = require('hyperdht/lib/noise-wrap')
const SecurePayload = require('hyperdht/lib/secure-payload')

const hex = (b) => (b ? b4a.toString(b, 'hex') : null)
const fill = (n, len = 32) => b4a.alloc(len, n)
const keyPair = (n) => createKeyPair(fill(n))
const addr = (host, port) => ({ host, port })
const addrJson = (a) => (a ? { host: a.host, port: a.port } : null)

// --- messages ------------------------------------------------------------------

function messageVectors () {
  const out = []
  const add = (codec, enc, value, json) => out.push({ codec, value: json, hex: hex(c.encode(enc, value)) })
  const peerJson = (p) => ({ publicKey: hex(p.publicKey), relayAddresses: p.relayAddresses.map(addrJson) })

  const hsJson = (h) => ({ mode: h.mode, noise: hex(h.noise), peerAddress: addrJson(h.peerAddress), relayAddress: addrJson(h.relayAddress) })
  for (const h of [
    { mode: 0, noise: b4a.from('00112233', 'hex'), peerAddress: null, relayAddress: null },
    { mode: 2, noise: fill(0xab, 100), peerAddress: addr('10.1.2.3', 49738), relayAddress: null },
    { mode: 3, noise: fill(0xcd, 300), peerAddress: addr('192.168.0.1', 1), relayAddress: addr('8.8.4.4', 65535) },
    { mode: 4, noise: b4a.alloc(0), peerAddress: null, relayAddress: addr('127.0.0.1', 0) }
  ]) add('handshake', m.handshake, h, hsJson(h))

  const hpJson = (h) => ({ mode: h.mode, id: h.id, payload: hex(h.payload), peerAddress: addrJson(h.peerAddress) })
  for (const h of [
    { mode: 0, id: 0, payload: b4a.from('beef', 'hex'), peerAddress: null },
    { mode: 1, id: 300, payload: fill(7, 80), peerAddress: addr('1.2.3.4', 5678) },
    { mode: 4, id: 2 ** 32, payload: b4a.alloc(0), peerAddress: addr('255.255.255.255', 65535) }
  ]) add('holepunch', m.holepunch, h, hpJson(h))

  const peers = [
    { publicKey: fill(1), relayAddresses: [] },
    { publicKey: fill(2), relayAddresses: [addr('10.0.0.1', 1000), addr('10.0.0.2', 2000), addr('10.0.0.3', 3000)] }
  ]
  for (const p of peers) add('peer', m.peer, p, peerJson(p))

  for (const bump of [0, 1700000000000]) {
    const value = { peers: peers.map((p) => c.encode(m.peer, p)), bump }
    add('lookupRawReply', m.lookupRawReply, value, { peers: peers.map(peerJson), bump })
  }
  // An older node's reply: the records and no bump (messages.js:330).
  out.push({ codec: 'lookupRawReply', value: { peers: peers.map(peerJson), bump: 0 }, hex: hex(c.encode(c.array(c.raw), peers.map((p) => c.encode(m.peer, p)))), decodeOnly: true })

  const annJson = (a) => ({ peer: a.peer ? peerJson(a.peer) : null, refresh: hex(a.refresh), signature: hex(a.signature), bump: a.bump || 0 })
  for (const a of [
    { peer: peers[1], refresh: null, signature: fill(9, 64), bump: 0 },
    { peer: peers[0], refresh: fill(3), signature: fill(10, 64), bump: 1700000000123 },
    { peer: null, refresh: fill(4), signature: null, bump: 0 },
    { peer: null, refresh: null, signature: null, bump: 0 }
  ]) add('announce', m.announce, a, annJson(a))

  for (const v of [{ seq: 0, value: b4a.alloc(0) }, { seq: 70000, value: b4a.from('hello world') }]) {
    add('mutableSignable', m.mutableSignable, v, { seq: v.seq, value: hex(v.value) })
  }
  const put = { publicKey: fill(5), seq: 42, value: b4a.from('a mutable value'), signature: fill(6, 64) }
  add('mutablePutRequest', m.mutablePutRequest, put, { publicKey: hex(put.publicKey), seq: put.seq, value: hex(put.value), signature: hex(put.signature) })
  const got = { seq: 2 ** 40, value: fill(8, 500), signature: fill(11, 64) }
  add('mutableGetResponse', m.mutableGetResponse, got, { seq: got.seq, value: hex(got.value), signature: hex(got.signature) })
  for (const n of [0, 7, 0xfd, 2 ** 33]) add('uint', c.uint, n, n)

  const hppJson = (p) => ({
    error: p.error, firewall: p.firewall, round: p.round, connected: !!p.connected, punching: !!p.punching,
    addresses: p.addresses ? p.addresses.map(addrJson) : null, remoteAddress: addrJson(p.remoteAddress),
    token: hex(p.token), remoteToken: hex(p.remoteToken)
  })
  for (const p of holepunchPayloads()) add('holepunchPayload', m.holepunchPayload, p, hppJson(p))
  return out
}

function holepunchPayloads () {
  return [
    { error: 0, firewall: 0, round: 0, connected: false, punching: false, addresses: null, remoteAddress: null, token: null, remoteToken: null },
    { error: 3, firewall: 2, round: 5, connected: true, punching: true, addresses: [addr('1.1.1.1', 1), addr('2.2.2.2', 2)], remoteAddress: addr('3.3.3.3', 3), token: fill(12), remoteToken: fill(13) },
    { error: 0, firewall: 1, round: 1, connected: false, punching: true, addresses: [], remoteAddress: null, token: fill(14), remoteToken: null }
  ]
}

// --- signatures --------------------------------------------------------------------

function signatureVectors () {
  const out = { announce: [], unannounce: [], mutable: [] }
  const server = keyPair(21)
  const other = keyPair(22)
  const id = fill(0x31)
  const token = fill(0x41)
  const topic = fill(0x51)
  const cases = [
    { kp: server, target: hash(server.publicKey), relayAddresses: [], refresh: null },
    { kp: server, target: hash(server.publicKey), relayAddresses: [addr('10.0.0.1', 1000), addr('10.0.0.2', 2000)], refresh: null },
    { kp: other, target: topic, relayAddresses: [addr('5.6.7.8', 9)], refresh: fill(0x61) }
  ]
  for (const k of cases) {
    const ann = { peer: { publicKey: k.kp.publicKey, relayAddresses: k.relayAddresses }, refresh: k.refresh, signature: null, bump: 0 }
    const base = { seed: hex(k.kp === server ? fill(21) : fill(22)), publicKey: hex(k.kp.publicKey), target: hex(k.target), token: hex(token), id: hex(id), relayAddresses: k.relayAddresses.map(addrJson), refresh: hex(k.refresh) }
    const sa = Persistent.signAnnounce(k.target, token, id, ann, k.kp)
    out.announce.push({ ...base, signature: hex(sa), value: hex(c.encode(m.announce, { ...ann, signature: sa })) })
    const su = Persistent.signUnannounce(k.target, token, id, ann, k.kp)
    out.unannounce.push({ ...base, signature: hex(su), value: hex(c.encode(m.announce, { ...ann, signature: su })) })
  }
  const mk = keyPair(23)
  for (const [seq, value] of [[0, b4a.from('first')], [1, b4a.alloc(0)], [123456789, fill(0x77, 1000)]]) {
    const signature = Persistent.signMutable(seq, value, mk)
    out.mutable.push({ seed: hex(fill(23)), publicKey: hex(mk.publicKey), seq, value: hex(value), signature: hex(signature), put: hex(c.encode(m.mutablePutRequest, { publicKey: mk.publicKey, seq, value, signature })) })
  }
  out.namespaces = { announce: hex(NS.ANNOUNCE), unannounce: hex(NS.UNANNOUNCE), mutablePut: hex(NS.MUTABLE_PUT), peerHandshake: hex(NS.PEER_HANDSHAKE), peerHolepunch: hex(NS.PEER_HOLEPUNCH), plugin: hex(NS.PLUGIN) }
  return out
}

// --- the encrypted holepunch payload ----------------------------------------------------

function withFixedRandom (bytes, fn) {
  const real = sodium.randombytes_buf
  sodium.randombytes_buf = (buf) => { buf.set(bytes.subarray(0, buf.byteLength)) }
  try { return fn() } finally { sodium.randombytes_buf = real }
}

function secureVectors () {
  const client = curve.generateKeyPair(fill(1))
  const server = curve.generateKeyPair(fill(2))
  const a = new NoiseWrap(client, server.publicKey)
  const b = new NoiseWrap(server, null)
  a.handshake.e = curve.generateKeyPair(fill(3))
  b.handshake.e = curve.generateKeyPair(fill(4))
  b.recv(a.send({ error: 0, firewall: 0 }))
  a.recv(b.send({ error: 0, firewall: 0 }))
  const fa = a.final()
  const localSecret = fill(0x71)
  const sp = withFixedRandom(localSecret, () => new SecurePayload(fa.holepunchSecret))
  const out = { hash: hex(fa.hash), holepunchSecret: hex(fa.holepunchSecret), localSecret: hex(localSecret), payloads: [], tokens: [] }
  let i = 0
  for (const p of holepunchPayloads()) {
    const nonce = fill(0x80 + i++, 24)
    const box = withFixedRandom(nonce, () => sp.encrypt(p))
    out.payloads.push({ plain: hex(c.encode(m.holepunchPayload, p)), nonce: hex(nonce), box: hex(box) })
  }
  for (const host of ['127.0.0.1', '10.20.30.40']) out.tokens.push({ host, token: hex(sp.token({ host, port: 1 })) })
  return out
}

// --- persistent + router, driven step by step ---------------------------------------------

function scenario () {
  const ownId = fill(0x90)
  const token = fill(0x91)
  const steps = []
  const dht = { id: ownId, _router: null }
  dht._router = new Router(dht, { forwards: { maxSize: 65536, maxAge: 0 } })
  const persistent = new Persistent(dht, {
    records: { maxSize: 65536, maxAge: 0 },
    refreshes: { maxSize: 65536, maxAge: 0 },
    mutables: { maxSize: 32768, maxAge: 0 },
    immutables: { maxSize: 32768, maxAge: 0 },
    bumps: { maxSize: 65536, maxAge: 0 }
  })
  const handlers = {
    [COMMANDS.FIND_PEER]: (req) => persistent.onfindpeer(req),
    [COMMANDS.LOOKUP]: (req) => persistent.onlookup(req),
    [COMMANDS.ANNOUNCE]: (req) => persistent.onannounce(req),
    [COMMANDS.UNANNOUNCE]: (req) => persistent.onunannounce(req),
    [COMMANDS.MUTABLE_PUT]: (req) => persistent.onmutableput(req),
    [COMMANDS.MUTABLE_GET]: (req) => persistent.onmutableget(req),
    [COMMANDS.IMMUTABLE_PUT]: (req) => persistent.onimmutableput(req),
    [COMMANDS.IMMUTABLE_GET]: (req) => persistent.onimmutableget(req),
    [COMMANDS.PEER_HANDSHAKE]: (req) => dht._router.onpeerhandshake(req),
    [COMMANDS.PEER_HOLEPUNCH]: (req) => dht._router.onpeerholepunch(req)
  }

  // One request through hyperdht's handler; what it did is recorded.
  async function request (note, command, { target = null, tok = token, value = null, from = addr('10.0.0.9', 9000) } = {}) {
    const actions = []
    const req = {
      command, target, token: tok, value, from: { ...from, id: null }, to: addr('10.0.0.1', 49739),
      reply (v, opts = {}) { actions.push({ kind: 'reply', value: hex(v), token: opts.token !== false, closerNodes: opts.closerNodes !== false, to: addrJson(opts.to) }) },
      error (code, opts = {}) { actions.push({ kind: 'error', code, token: opts.token === true, closerNodes: opts.closerNodes !== false }) },
      relay (v, to) { actions.push({ kind: 'relay', value: hex(v), to: addrJson(to) }) }
    }
    await handlers[command](req)
    if (actions.length > 1) throw new Error('more than one action for ' + note)
    const expect = actions[0] || { kind: 'drop' }
    if (command === COMMANDS.LOOKUP && expect.value) {
      // record-cache picks records in random order: normalise by key.
      const d = c.decode(m.lookupRawReply, b4a.from(expect.value, 'hex'))
      d.peers.sort((x, y) => b4a.compare(x.publicKey, y.publicKey))
      expect.value = hex(c.encode(m.lookupRawReply, { peers: d.peers.map((p) => c.encode(m.peer, p)), bump: d.bump }))
    }
    steps.push({ op: 'request', note, command, target: hex(target), token: hex(tok), value: hex(value), from: addrJson(from), expect })
  }

  const announce = (kp, target, relayAddresses, { tok = token, id = ownId, refresh = null, bump = 0, ns = 'announce' } = {}) => {
    const ann = { peer: { publicKey: kp.publicKey, relayAddresses }, refresh, signature: null, bump }
    const sign = ns === 'announce' ? Persistent.signAnnounce : Persistent.signUnannounce
    ann.signature = sign(target, tok, id, ann, kp)
    return c.encode(m.announce, ann)
  }
  const hs = (mode, noise, peerAddress = null, relayAddress = null) => c.encode(m.handshake, { mode, noise, peerAddress, relayAddress })
  const hp = (mode, id, payload, peerAddress = null) => c.encode(m.holepunch, { mode, id, payload, peerAddress })

  return (async () => {
    const S = keyPair(101)
    const A = keyPair(102)
    const B = keyPair(103)
    const C = keyPair(104)
    const M = keyPair(105)
    const L = keyPair(106)
    const sTarget = hash(S.publicKey)
    const topic = fill(0xa1)
    const topic2 = fill(0xa2)
    const serverAt = addr('10.0.0.5', 4000)
    const four = [addr('1.0.0.1', 1), addr('1.0.0.2', 2), addr('1.0.0.3', 3), addr('1.0.0.4', 4)]
    const { ANNOUNCE, UNANNOUNCE, FIND_PEER, LOOKUP, MUTABLE_PUT, MUTABLE_GET, IMMUTABLE_PUT, IMMUTABLE_GET, PEER_HANDSHAKE, PEER_HOLEPUNCH } = COMMANDS

    await request('announce self, 4 relays (trimmed to 3)', ANNOUNCE, { target: sTarget, value: announce(S, sTarget, four), from: serverAt })
    await request('find_peer of the announced server', FIND_PEER, { target: sTarget })
    await request('lookup of the announced server', LOOKUP, { target: sTarget })
    await request('announce A on topic with bump 1000', ANNOUNCE, { target: topic, value: announce(A, topic, [addr('2.0.0.1', 5)], { bump: 1000 }) })
    await request('announce B on topic, bump far in the future (ignored)', ANNOUNCE, { target: topic, value: announce(B, topic, [], { bump: 2 ** 50 }) })
    await request('lookup topic: A and B, bump 1000', LOOKUP, { target: topic })
    await request('re-announce A with other relays (record-cache keeps the first)', ANNOUNCE, { target: topic, value: announce(A, topic, [addr('2.0.0.2', 6)]) })
    await request('lookup topic again', LOOKUP, { target: topic })
    await request('announce signed for another token', ANNOUNCE, { target: topic, value: announce(C, topic, [], { tok: fill(0x92) }) })
    await request('announce signed for another node id', ANNOUNCE, { target: topic, value: announce(C, topic, [], { id: fill(0x93) }) })
    await request('announce signed for another target', ANNOUNCE, { target: topic, value: announce(C, topic2, []) })
    await request('announce signed as unannounce', ANNOUNCE, { target: topic, value: announce(C, topic, [], { ns: 'unannounce' }) })
    await request('announce without a token', ANNOUNCE, { target: topic, tok: null, value: announce(C, topic, []) })
    await request('announce without a target', ANNOUNCE, { value: announce(C, topic, []) })
    await request('announce without a value', ANNOUNCE, { target: topic })
    await request('announce with a truncated value', ANNOUNCE, { target: topic, value: announce(C, topic, []).subarray(0, 40) })
    await request('announce without a signature', ANNOUNCE, { target: topic, value: c.encode(m.announce, { peer: { publicKey: C.publicKey, relayAddresses: [] }, refresh: null, signature: null, bump: 0 }) })
    await request('announce with neither peer nor refresh', ANNOUNCE, { target: topic, value: c.encode(m.announce, { peer: null, refresh: null, signature: null, bump: 0 }) })
    await request('lookup topic: still A and B', LOOKUP, { target: topic })
    await request('unannounce A signed as announce', UNANNOUNCE, { target: topic, value: announce(A, topic, []) })
    await request('unannounce A', UNANNOUNCE, { target: topic, value: announce(A, topic, [], { ns: 'unannounce' }) })
    await request('lookup topic: B only', LOOKUP, { target: topic })
    await request('unannounce without a token', UNANNOUNCE, { target: topic, tok: null, value: announce(B, topic, [], { ns: 'unannounce' }) })
    await request('find_peer of an unknown target', FIND_PEER, { target: topic2 })
    await request('lookup of an unknown target', LOOKUP, { target: topic2 })
    await request('find_peer without a target', FIND_PEER, {})
    await request('lookup without a target', LOOKUP, {})

    // refresh chain: commit to hash(r0) with a signed announce, reveal r0 later
    const r0 = fill(0xb0)
    const r1 = hash(r0)
    await request('announce C on topic2 committing to a refresh', ANNOUNCE, { target: topic2, value: announce(C, topic2, [addr('3.0.0.1', 7)], { refresh: r1 }) })
    await request('unannounce C on topic2', UNANNOUNCE, { target: topic2, value: announce(C, topic2, [addr('3.0.0.1', 7)], { ns: 'unannounce' }) })
    await request('lookup topic2: empty', LOOKUP, { target: topic2 })
    await request('refresh with the preimage re-adds C', ANNOUNCE, { target: topic2, value: c.encode(m.announce, { peer: null, refresh: r0, signature: null, bump: 0 }) })
    await request('lookup topic2: C again', LOOKUP, { target: topic2 })
    await request('the same refresh again is unknown', ANNOUNCE, { target: topic2, value: c.encode(m.announce, { peer: null, refresh: r0, signature: null, bump: 0 }) })
    await request('refresh without a token', ANNOUNCE, { target: topic2, tok: null, value: c.encode(m.announce, { peer: null, refresh: fill(0xb1), signature: null, bump: 0 }) })

    // mutable
    const mTarget = hash(M.publicKey)
    const mput = (seq, value, { kp = M, sig = null } = {}) => c.encode(m.mutablePutRequest, { publicKey: kp.publicKey, seq, value, signature: sig || Persistent.signMutable(seq, value, kp) })
    await request('mutable get before any put', MUTABLE_GET, { target: mTarget, value: c.encode(c.uint, 0) })
    await request('mutable put seq 1', MUTABLE_PUT, { target: mTarget, value: mput(1, b4a.from('hello')) })
    await request('mutable get seq >= 0', MUTABLE_GET, { target: mTarget, value: c.encode(c.uint, 0) })
    await request('mutable get seq >= 2: nothing', MUTABLE_GET, { target: mTarget, value: c.encode(c.uint, 2) })
    await request('mutable put seq 1 other value: SEQ_REUSED', MUTABLE_PUT, { target: mTarget, value: mput(1, b4a.from('other')) })
    await request('mutable put seq 1 same value again', MUTABLE_PUT, { target: mTarget, value: mput(1, b4a.from('hello')) })
    await request('mutable put seq 0: SEQ_TOO_LOW', MUTABLE_PUT, { target: mTarget, value: mput(0, b4a.from('older')) })
    await request('mutable put with a bad signature', MUTABLE_PUT, { target: mTarget, value: mput(5, b4a.from('x'), { sig: fill(1, 64) }) })
    await request('mutable put for another target', MUTABLE_PUT, { target: topic, value: mput(5, b4a.from('x')) })
    await request('mutable put without a token', MUTABLE_PUT, { target: mTarget, tok: null, value: mput(5, b4a.from('x')) })
    await request('mutable put with a truncated value', MUTABLE_PUT, { target: mTarget, value: mput(5, b4a.from('x')).subarray(0, 50) })
    await request('mutable put seq 2', MUTABLE_PUT, { target: mTarget, value: mput(2, b4a.from('newer')) })
    await request('mutable get seq >= 2', MUTABLE_GET, { target: mTarget, value: c.encode(c.uint, 2) })
    await request('mutable get with an empty value', MUTABLE_GET, { target: mTarget, value: b4a.alloc(0) })
    await request('mutable get without a value', MUTABLE_GET, { target: mTarget })

    // immutable
    const iv = b4a.from('an immutable value')
    await request('immutable put', IMMUTABLE_PUT, { target: hash(iv), value: iv })
    await request('immutable put under another target', IMMUTABLE_PUT, { target: topic, value: iv })
    await request('immutable put without a token', IMMUTABLE_PUT, { target: hash(iv), tok: null, value: iv })
    await request('immutable get', IMMUTABLE_GET, { target: hash(iv) })
    await request('immutable get of an unknown target', IMMUTABLE_GET, { target: topic })
    await request('immutable put of an empty value', IMMUTABLE_PUT, { target: hash(b4a.alloc(0)), value: b4a.alloc(0) })
    await request('immutable get of the empty value', IMMUTABLE_GET, { target: hash(b4a.alloc(0)) })

    // router: relaying for the announced server S (forward relay = serverAt)
    const client = addr('20.0.0.1', 1234)
    const noise = fill(0xee, 64)
    await request('handshake FROM_CLIENT for an announced server', PEER_HANDSHAKE, { target: sTarget, tok: null, value: hs(0, noise), from: client })
    await request('handshake FROM_CLIENT for an unknown target', PEER_HANDSHAKE, { target: topic2, tok: null, value: hs(0, noise), from: client })
    await request('handshake FROM_CLIENT without a target', PEER_HANDSHAKE, { tok: null, value: hs(0, noise), from: client })
    await request('handshake FROM_CLIENT with a relayAddress', PEER_HANDSHAKE, { target: topic2, tok: null, value: hs(0, noise, null, addr('30.0.0.1', 30)), from: client })
    await request('handshake FROM_RELAY for an announced server', PEER_HANDSHAKE, { target: sTarget, tok: null, value: hs(2, noise, client), from: addr('40.0.0.1', 40) })
    await request('handshake FROM_RELAY for an unknown target', PEER_HANDSHAKE, { target: topic2, tok: null, value: hs(2, noise, client), from: addr('40.0.0.1', 40) })
    await request('handshake FROM_SERVER back to the client', PEER_HANDSHAKE, { target: sTarget, tok: null, value: hs(1, noise, client), from: serverAt })
    await request('handshake FROM_SERVER without a peerAddress', PEER_HANDSHAKE, { target: sTarget, tok: null, value: hs(1, noise), from: serverAt })
    await request('handshake REPLY sent as a request', PEER_HANDSHAKE, { target: sTarget, tok: null, value: hs(4, noise, client), from: serverAt })
    await request('handshake with an unknown mode', PEER_HANDSHAKE, { target: sTarget, tok: null, value: hs(9, noise, client), from: client })
    await request('handshake with a truncated value', PEER_HANDSHAKE, { target: sTarget, tok: null, value: hs(0, noise).subarray(0, 10), from: client })
    await request('handshake without a value', PEER_HANDSHAKE, { target: sTarget, tok: null, from: client })
    const punch = fill(0xdd, 60)
    await request('holepunch FROM_CLIENT for an announced server', PEER_HOLEPUNCH, { target: sTarget, tok: null, value: hp(0, 3, punch), from: client })
    await request('holepunch FROM_CLIENT with a peerAddress', PEER_HOLEPUNCH, { target: topic2, tok: null, value: hp(0, 3, punch, addr('50.0.0.1', 50)), from: client })
    await request('holepunch FROM_CLIENT for an unknown target', PEER_HOLEPUNCH, { target: topic2, tok: null, value: hp(0, 3, punch), from: client })
    await request('holepunch FROM_RELAY without a local server', PEER_HOLEPUNCH, { target: sTarget, tok: null, value: hp(2, 3, punch, client), from: addr('40.0.0.1', 40) })
    await request('holepunch FROM_SERVER back to the client', PEER_HOLEPUNCH, { target: sTarget, tok: null, value: hp(1, 0, punch, client), from: serverAt })
    await request('holepunch FROM_SERVER without a peerAddress', PEER_HOLEPUNCH, { target: sTarget, tok: null, value: hp(1, 0, punch), from: serverAt })
    await request('holepunch with an unknown mode', PEER_HOLEPUNCH, { target: sTarget, tok: null, value: hp(4, 0, punch, client), from: client })
    await request('holepunch with a truncated value', PEER_HOLEPUNCH, { target: sTarget, tok: null, value: hp(0, 3, punch).subarray(0, 5), from: client })

    // precedence and the remaining corners
    await request('handshake FROM_CLIENT with a relayAddress for an announced server (relayAddress wins)', PEER_HANDSHAKE, { target: sTarget, tok: null, value: hs(0, noise, null, addr('30.0.0.2', 31)), from: client })
    await request('holepunch FROM_CLIENT with a peerAddress for an announced server (peerAddress wins)', PEER_HOLEPUNCH, { target: sTarget, tok: null, value: hp(0, 3, punch, addr('50.0.0.2', 51)), from: client })
    await request('holepunch FROM_SERVER for an unknown target', PEER_HOLEPUNCH, { target: topic2, tok: null, value: hp(1, 9, punch, client), from: serverAt })
    await request('announce A under the server\'s target (a record, not a forward)', ANNOUNCE, { target: sTarget, value: announce(A, sTarget, []) })
    await request('lookup of the server\'s target: the record and the forward', LOOKUP, { target: sTarget })
    await request('unannounce of a key never announced still replies', UNANNOUNCE, { target: topic, value: announce(C, topic, [], { ns: 'unannounce' }) })
    const S2 = keyPair(107)
    const s2Target = hash(S2.publicKey)
    const q0 = fill(0xc0)
    await request('announce-self committing to a refresh', ANNOUNCE, { target: s2Target, value: announce(S2, s2Target, [], { refresh: hash(q0) }), from: serverAt })
    await request('unannounce it', UNANNOUNCE, { target: s2Target, value: announce(S2, s2Target, [], { ns: 'unannounce' }) })
    await request('find_peer: gone', FIND_PEER, { target: s2Target })
    await request('refresh from a new address brings the forward back', ANNOUNCE, { target: s2Target, value: c.encode(m.announce, { peer: null, refresh: q0, signature: null, bump: 0 }), from: addr('10.0.0.6', 4001) })
    await request('find_peer: back', FIND_PEER, { target: s2Target })
    await request('handshake FROM_CLIENT goes to the refreshed address', PEER_HANDSHAKE, { target: s2Target, tok: null, value: hs(0, noise), from: client })

    // a server listening on this node
    const lTarget = hash(L.publicKey)
    const lRecord = c.encode(m.peer, { publicKey: L.publicKey, relayAddresses: [] })
    const serverNoise = fill(0xbe, 48)
    const serverPayload = fill(0xca, 40)
    dht._router.set(lTarget, {
      relay: null,
      record: lRecord,
      onpeerhandshake: async () => ({ noise: serverNoise, socket: null }),
      onpeerholepunch: async () => ({ payload: serverPayload, socket: null })
    })
    steps.push({ op: 'listen', target: hex(lTarget), record: hex(lRecord), noise: hex(serverNoise), payload: hex(serverPayload) })
    await request('find_peer of the local server', FIND_PEER, { target: lTarget })
    await request('handshake FROM_CLIENT straight to the local server', PEER_HANDSHAKE, { target: lTarget, tok: null, value: hs(0, noise), from: client })
    await request('handshake FROM_RELAY to the local server', PEER_HANDSHAKE, { target: lTarget, tok: null, value: hs(2, noise, client), from: addr('40.0.0.1', 40) })
    await request('handshake FROM_SECOND_RELAY to the local server', PEER_HANDSHAKE, { target: lTarget, tok: null, value: hs(3, noise, client, addr('41.0.0.1', 41)), from: addr('40.0.0.1', 40) })
    await request('handshake FROM_SECOND_RELAY without relayAddress', PEER_HANDSHAKE, { target: lTarget, tok: null, value: hs(3, noise, client), from: addr('40.0.0.1', 40) })
    await request('handshake FROM_SERVER to the local server', PEER_HANDSHAKE, { target: lTarget, tok: null, value: hs(1, noise, client), from: addr('40.0.0.1', 40) })
    await request('holepunch FROM_RELAY to the local server', PEER_HOLEPUNCH, { target: lTarget, tok: null, value: hp(2, 3, punch, client), from: addr('40.0.0.1', 40) })
    await request('holepunch FROM_RELAY to the local server without peerAddress', PEER_HOLEPUNCH, { target: lTarget, tok: null, value: hp(2, 3, punch), from: addr('40.0.0.1', 40) })
    await request('holepunch FROM_CLIENT for the local server (no relay)', PEER_HOLEPUNCH, { target: lTarget, tok: null, value: hp(0, 3, punch), from: client })
    await request('a remote announce cannot replace the local server', ANNOUNCE, { target: lTarget, value: announce(L, lTarget, [addr('6.0.0.1', 6)]), from: serverAt })
    await request('find_peer: still the local record', FIND_PEER, { target: lTarget })
    await request('a signed unannounce removes even the local server', UNANNOUNCE, { target: lTarget, value: announce(L, lTarget, [], { ns: 'unannounce' }) })
    await request('find_peer of the removed local server', FIND_PEER, { target: lTarget })
    await request('unannounce the announced server', UNANNOUNCE, { target: sTarget, value: announce(S, sTarget, [], { ns: 'unannounce' }) })
    await request('handshake FROM_CLIENT after the unannounce', PEER_HANDSHAKE, { target: sTarget, tok: null, value: hs(0, noise), from: client })

    return { ownId: hex(ownId), token: hex(token), steps }
  })()
}

// --- expiry and caps with hyperdht's real cache timers, time faked ----------------------

// xache and record-cache run their gc on setInterval(ceil(2/3 maxAge)): a fake
// setInterval lets the script fire those ticks at chosen times.
function fakeIntervals () {
  const timers = []
  const real = global.setInterval
  global.setInterval = (fn, ms) => {
    const t = { fn, ms, next: ms, unref () {} }
    timers.push(t)
    return t
  }
  return {
    restore () { global.setInterval = real },
    advanceTo (now) {
      for (;;) {
        let due = null
        for (const t of timers) if (t.next <= now && (!due || t.next < due.next)) due = t
        if (!due) return
        due.fn()
        due.next += due.ms
      }
    }
  }
}

async function timedScenario (name, maxSize, build) {
  const maxAge = 20 * 60 * 1000
  const ownId = fill(0x90)
  const token = fill(0x91)
  const clock = fakeIntervals()
  const dht = { id: ownId, _router: null }
  // hyperdht's defaultCacheOpts (index.js:614-640) for this maxSize.
  dht._router = new Router(dht, { forwards: { maxSize, maxAge } })
  const persistent = new Persistent(dht, {
    records: { maxSize, maxAge },
    refreshes: { maxSize, maxAge },
    mutables: { maxSize: (maxSize / 2) | 0, maxAge: 48 * 60 * 60 * 1000 },
    immutables: { maxSize: (maxSize / 2) | 0, maxAge: 48 * 60 * 60 * 1000 },
    bumps: { maxSize, maxAge }
  })
  clock.restore()
  const steps = []
  const run = {
    [COMMANDS.FIND_PEER]: (req) => persistent.onfindpeer(req),
    [COMMANDS.LOOKUP]: (req) => persistent.onlookup(req),
    [COMMANDS.ANNOUNCE]: (req) => persistent.onannounce(req),
    [COMMANDS.MUTABLE_PUT]: (req) => persistent.onmutableput(req),
    [COMMANDS.MUTABLE_GET]: (req) => persistent.onmutableget(req),
    [COMMANDS.IMMUTABLE_PUT]: (req) => persistent.onimmutableput(req),
    [COMMANDS.IMMUTABLE_GET]: (req) => persistent.onimmutableget(req)
  }
  const ctx = {
    ownId,
    token,
    announce (kp, target, relayAddresses = []) {
      const ann = { peer: { publicKey: kp.publicKey, relayAddresses }, refresh: null, signature: null, bump: 0 }
      ann.signature = Persistent.signAnnounce(target, token, ownId, ann, kp)
      return c.encode(m.announce, ann)
    },
    async request (at, note, command, target, value = null) {
      clock.advanceTo(at)
      let expect = { kind: 'drop' }
      const req = {
        command, target, token, value, from: { host: '10.0.0.9', port: 9000, id: null },
        reply (v, opts = {}) { expect = { kind: 'reply', value: hex(v), token: opts.token !== false, closerNodes: opts.closerNodes !== false, to: addrJson(opts.to) } },
        error (code, opts = {}) { expect = { kind: 'error', code, token: opts.token === true, closerNodes: opts.closerNodes !== false } }
      }
      await run[command](req)
      if (command === COMMANDS.LOOKUP && expect.value) {
        const d = c.decode(m.lookupRawReply, b4a.from(expect.value, 'hex'))
        d.peers.sort((x, y) => b4a.compare(x.publicKey, y.publicKey))
        expect.value = hex(c.encode(m.lookupRawReply, { peers: d.peers.map((p) => c.encode(m.peer, p)), bump: d.bump }))
      }
      steps.push({ op: 'request', at, note, command, target: hex(target), token: hex(token), value: hex(value), from: { host: '10.0.0.9', port: 9000 }, expect })
    }
  }
  await build(ctx)
  return { name, maxSize, maxAge, ownId: hex(ownId), steps }
}

async function timedScenarios () {
  const { ANNOUNCE, FIND_PEER, LOOKUP, MUTABLE_PUT, MUTABLE_GET, IMMUTABLE_PUT, IMMUTABLE_GET } = COMMANDS
  const topic = fill(0xa1)
  const out = []
  // maxAge 20 min: ticks every 800 000 ms; mutables/immutables 48 h: every 115 200 000 ms.
  out.push(await timedScenario('expiry', 65536, async (x) => {
    const S = keyPair(111)
    const A = keyPair(112)
    const B = keyPair(113)
    const M = keyPair(114)
    const sT = hash(S.publicKey)
    await x.request(0, 'announce S (forward)', ANNOUNCE, sT, x.announce(S, sT))
    await x.request(0, 'announce A on topic', ANNOUNCE, topic, x.announce(A, topic))
    await x.request(0, 'announce B on topic', ANNOUNCE, topic, x.announce(B, topic))
    await x.request(400000, 'lookup topic: A, B', LOOKUP, topic)
    await x.request(1000000, 'after tick 1: lookup topic (stale)', LOOKUP, topic)
    await x.request(1000000, 'after tick 1: find_peer S (read: back to latest)', FIND_PEER, sT)
    await x.request(1200000, 're-announce A', ANNOUNCE, topic, x.announce(A, topic))
    await x.request(1700000, 'after tick 2: lookup topic: A only', LOOKUP, topic)
    await x.request(1700000, 'after tick 2: find_peer S', FIND_PEER, sT)
    await x.request(2500000, 'after tick 3: find_peer S still there (read at 1 700 000)', FIND_PEER, sT)
    await x.request(2500000, 'after tick 3: lookup topic empty', LOOKUP, topic)
    await x.request(4100000, 'after tick 5, unread since tick 3: find_peer S gone', FIND_PEER, sT)
    const mv = b4a.from('mutable')
    const put = c.encode(m.mutablePutRequest, { publicKey: M.publicKey, seq: 1, value: mv, signature: Persistent.signMutable(1, mv, M) })
    const iv = b4a.from('immutable')
    await x.request(4200000, 'mutable put', MUTABLE_PUT, hash(M.publicKey), put)
    await x.request(4200000, 'immutable put', IMMUTABLE_PUT, hash(iv), iv)
    await x.request(115200000 + 1, 'mutable get after a 48 h tick', MUTABLE_GET, hash(M.publicKey), c.encode(c.uint, 0))
    await x.request(2 * 115200000 + 1, 'mutable get after two (read in between)', MUTABLE_GET, hash(M.publicKey), c.encode(c.uint, 0))
    await x.request(2 * 115200000 + 1, 'immutable get after two (never read)', IMMUTABLE_GET, hash(iv))
    await x.request(2 * 115200000 + 2, 'announce A after a long idle', ANNOUNCE, topic, x.announce(A, topic))
    await x.request(2 * 115200000 + 3, 'lookup topic: A', LOOKUP, topic)
  }))
  // maxSize 3: rotations triggered by size, and the timed tick they replace.
  out.push(await timedScenario('caps', 3, async (x) => {
    const ks = [121, 122, 123, 124].map(keyPair)
    for (let i = 0; i < 4; i++) await x.request(10 * i, 'announce record ' + i + ' on topic', ANNOUNCE, topic, x.announce(ks[i], topic))
    await x.request(900000, 'after the skipped tick: all 4 still there', LOOKUP, topic)
    await x.request(1700000, 'after the next tick: gone', LOOKUP, topic)
    const ss = [131, 132, 133, 134].map(keyPair)
    for (let i = 0; i < 4; i++) await x.request(2000000 + i, 'announce server ' + i, ANNOUNCE, hash(ss[i].publicKey), x.announce(ss[i], hash(ss[i].publicKey)))
    await x.request(2500000, 'find_peer server 0 (read after the skipped tick)', FIND_PEER, hash(ss[0].publicKey))
    await x.request(3300000, 'find_peer server 1 after the next tick', FIND_PEER, hash(ss[1].publicKey))
    await x.request(3300000, 'find_peer server 0 after the next tick', FIND_PEER, hash(ss[0].publicKey))
  }))
  return out
}

async function main () {
  const out = {
    messages: messageVectors(),
    signatures: signatureVectors(),
    secure: secureVectors(),
    scenario: await scenario(),
    timed: await timedScenarios()
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}

main().catch((err) => { console.error(err); process.exit(1) })
