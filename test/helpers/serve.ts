import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from './free-port';

export interface Served {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** Runs `contourbench serve` as a user would and waits for the URL it prints. */
export async function serve(env: Record<string, string | undefined>): Promise<Served> {
  const port = await freePort();
  const child = spawn(process.execPath, ['bin/contourbench.js', 'serve', '--port', String(port)], {
    env: { ...process.env, DATABASE_URL: undefined, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start within 60 s:\n${output}`)), 60_000);
    child.stdout?.on('data', () => {
      if (output.includes('ContourBench is running at')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${output}`));
    });
  });
  return { child, url: `http://127.0.0.1:${port}`, output: () => output };
}

export async function stop(served: Served): Promise<number | null> {
  if (served.child.exitCode !== null) return served.child.exitCode;
  const exited = new Promise<number | null>((resolve) => served.child.on('exit', (code) => resolve(code)));
  served.child.kill('SIGTERM');
  return exited;
}
