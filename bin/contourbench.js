#!/usr/bin/env node
// The contourbench command. The CLI is TypeScript, compiled on the fly by tsx, so it runs straight from
// a clean clone after `npm install` with no build step.
import { register } from 'tsx/esm/api';

register({ tsconfig: false });
await import('../src/cli/main.ts');
