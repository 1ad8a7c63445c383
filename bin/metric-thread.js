// Entry of a metric worker thread: like the contourbench command, it runs the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register({ tsconfig: false });
await import('../src/lib/server/services/metric-thread.ts');
