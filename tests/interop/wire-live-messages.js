// The deterministic message sequence of the wire live test, mirrored in
// tests/wire/test_interop_live.cpp: sizes from 0 B to 1 MiB, content derived
// from (direction, index) so the receiver can check every byte.
'use strict'

function mix (x) {
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b) >>> 0
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b) >>> 0
  return (x ^ (x >>> 16)) >>> 0
}

function messageSize (dir, i) {
  if (i % 1000 === 999) return 1024 * 1024
  if (i % 100 === 50) return 65536 + (i % 7)
  if (i % 10 === 3) return 0
  return mix(i * 2 + dir) % 2048
}

function fillMessage (dir, i, buf) {
  const base = mix(i * 2 + dir + 0x9e3779b9)
  for (let j = 0; j < buf.byteLength; j++) buf[j] = (base + j * 131) & 255
}

function checkMessage (dir, i, msg) {
  const size = messageSize(dir, i)
  if (msg.byteLength !== size) return `message ${i}: ${msg.byteLength} bytes, expected ${size}`
  const base = mix(i * 2 + dir + 0x9e3779b9)
  for (let j = 0; j < size; j++) {
    if (msg[j] !== ((base + j * 131) & 255)) return `message ${i}: byte ${j} differs`
  }
  return null
}

module.exports = { mix, messageSize, fillMessage, checkMessage }
