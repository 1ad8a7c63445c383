// The part of dcmjs (a dependency of dcmjs-dimse) ContourBench touches: its loggers.
declare module 'dcmjs' {
  interface Logger {
    setLevel(level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent'): void;
    getLogger(name: string): Logger;
  }
  const dcmjs: { log: Logger };
  export default dcmjs;
}
