// Host-thread cost of one trace with the JS reference: hypertrace's
// tracer.trace() into hypertrace-logger's Client.addTrace() (connected to a
// fake socket that discards writes), and with tracing off. Prints one JSON
// line: {"on":{"median_ns","p99_ns"},"off":{...},"n"}.
'use strict'
const { EventEmitter } = require('events')
const { createTracer, clearTraceFunction } = require('hypertrace')
const Client = require('hypertrace-logger/client')

const N = Number(process.argv[2] || 200000)

class Sink extends EventEmitter {
  setKeepAlive () {}
  write () {}
  destroy () {}
}

class Sensor {
  constructor () { this.tracer = createTracer(this, { props: { thread: 0 } }) }
  sample (i) { this.tracer.trace('sample', { i }) }
}

function measure (fn) {
  const t = new Float64Array(N)
  for (let i = 0; i < 20000; i++) fn(i) // warm up the JIT
  for (let i = 0; i < N; i++) {
    const a = process.hrtime.bigint()
    fn(i)
    t[i] = Number(process.hrtime.bigint() - a)
  }
  t.sort()
  return { median_ns: t[Math.floor(N / 2)], p99_ns: t[Math.floor(N * 0.99)] }
}

async function main () {
  const timer = measure(() => {})
  const socket = new Sink()
  const client = new Client()
  await client.start({ createSocket: () => socket })
  socket.emit('open')
  socket.emit('data', JSON.stringify({ lastSeenTraceSessionId: null, lastSeenTraceNumber: null }))
  const on = new Sensor()
  const onRes = measure(i => on.sample(i))
  client.stop()
  clearTraceFunction()
  const off = new Sensor()
  const offRes = measure(i => off.sample(i))
  process.stdout.write(JSON.stringify({ n: N, timer, on: onRes, off: offRes }) + '\n')
}

main().catch(err => { console.error(err); process.exit(1) })
