// Entry of a demo-generation worker thread: like the contourbench command, it runs the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register({ tsconfig: false });
await import('../src/lib/server/services/demo-thread.ts');
