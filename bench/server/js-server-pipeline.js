// The JS reference for bench_server_pipeline: the real hypertrace-logger
// 1.1.1 Server class, with hyperdht replaced by an in-process stand-in, fed
// N traces of ~448 bytes on one connection. Prints one JSON line with the
// CPU time and wall time it took to get them into the .log file.
const Module = require('module')
const path = require('path')
const fs = require('fs')
const { EventEmitter } = require('events')

const [folder, countArg] = process.argv.slice(2)
const count = Number(countArg)

// hyperdht stand-in: createServer() returns an emitter we drive ourselves.
let dhtServer = null
const fakeDht = class { createServer () { dhtServer = new EventEmitter(); dhtServer.listen = async () => {}; dhtServer.close = async () => {}; return dhtServer } }
const origLoad = Module._load
Module._load = function (request, parent, isMain) {
  if (request === 'hyperdht') return fakeDht
  return origLoad.call(this, request, parent, isMain)
}
const Server = require(path.join(__dirname, '../../tests/interop/node_modules/hypertrace-logger/server.js'))
console.log = () => {} // its DEBUG output would otherwise dominate; we measure the pipeline
console.warn = () => {}

const server = new Server({ folder })
const socket = new EventEmitter()
socket.remotePublicKey = Buffer.alloc(32, 7)
socket.write = () => true
socket.setKeepAlive = () => {}
let paused = false
socket.pause = () => { paused = true }
socket.resume = () => { paused = false; setImmediate(pump) }

function trace (n) {
  return JSON.stringify({
    traceTimestamp: '2026-11-24T06:42:57.876Z',
    traceSessionId: '3220392801237528',
    traceNumber: n,
    id: 'hit',
    props: { username: 'bench', padding: 'x'.repeat(160) },
    object: { id: 1, className: 'Bench', props: { kind: 'bench' } },
    caller: { filename: '/app/bench.js', functionName: 'hit', props: { i: n } }
  })
}

let next = 0
const start = process.hrtime.bigint()
const cpu0 = process.cpuUsage()
function pump () {
  while (!paused && next < count) socket.emit('data', Buffer.from(trace(next++)))
  if (next >= count && !paused) done()
}
let finished = false
function done () {
  if (finished) return
  finished = true
  const file = path.join(folder, socket.remotePublicKey.toString('hex') + '.log')
  const check = () => {
    const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').length - 1 : 0
    if (lines < count + 1) return setImmediate(check)
    const cpu = process.cpuUsage(cpu0)
    const wall = Number(process.hrtime.bigint() - start) / 1e9
    process.stdout.write(JSON.stringify({ traces: count, cpuSeconds: (cpu.user + cpu.system) / 1e6, wallSeconds: wall, bytes: trace(0).length }) + '\n')
  }
  check()
}
dhtServer.emit('connection', socket)
pump()
