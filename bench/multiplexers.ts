// select vs poll vs epoll: server CPU per message of one busy client beside N idle connections, on the
// syscall reactor (the same comparison `c10k bench` puts in its report). select also shows its ceiling:
// beyond FD_SETSIZE the reactor turns clients away (held < idle).
//   node bench/multiplexers.ts [--idle 100,1000,10000] [--seconds 3]
import { parseArgs } from 'node:util';
import { MULTIPLEXERS, type MultiplexerResult, runMultiplexerStep } from '../src/report/multiplexers.ts';
import { multiplexerTable } from '../src/report/table.ts';

const { values } = parseArgs({
  options: { idle: { type: 'string', default: '100,1000,10000' }, seconds: { type: 'string', default: '3' } },
});
const idles = values.idle!.split(',').map(Number);
const results: MultiplexerResult[] = [];
for (const idle of idles) {
  for (const name of MULTIPLEXERS) {
    const r = await runMultiplexerStep(name, idle, Number(values.seconds) * 1000);
    results.push(r);
    console.error(
      `${name} + ${idle} idle: ${r.serverCpuUsPerMsg?.toFixed(2) ?? '-'} us/msg, held ${r.held}, ${r.status}`,
    );
  }
}
console.log(multiplexerTable(results));
