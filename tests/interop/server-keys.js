// keys.dat interop: writes a key file exactly as hypertrace-logger's
// start-server.js does, and checks that the key file our server wrote
// loads the way start-server.js loads it and signs and verifies with
// hyperdht's key pair functions.
const fs = require('fs')
const readline = require('readline')
const DHT = require('hyperdht')
const sodium = require('sodium-universal')

const [jsPath, oursPath] = process.argv.slice(2)

const kp = DHT.keyPair()
fs.writeFileSync(jsPath, JSON.stringify({
  publicKey: kp.publicKey.toString('hex'),
  secretKey: kp.secretKey.toString('hex')
}))
console.log('written')

const rl = readline.createInterface({ input: process.stdin })
rl.once('line', line => {
  if (line !== kp.publicKey.toString('hex')) {
    console.log('C++ read a different public key: ' + line)
    process.exit(1)
  }
  const raw = JSON.parse(fs.readFileSync(oursPath))
  const ours = {
    publicKey: Buffer.from(raw.publicKey, 'hex'),
    secretKey: Buffer.from(raw.secretKey, 'hex')
  }
  const msg = Buffer.from('hypertrace-logger')
  const sig = Buffer.alloc(sodium.crypto_sign_BYTES)
  sodium.crypto_sign_detached(sig, msg, ours.secretKey)
  if (!sodium.crypto_sign_verify_detached(sig, msg, ours.publicKey)) {
    console.log('our key pair does not sign and verify in JS')
    process.exit(1)
  }
  console.log('ours ok ' + ours.publicKey.toString('hex'))
  rl.close()
  process.exit(0)
})
