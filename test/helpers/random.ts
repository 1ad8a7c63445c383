/** The tests use the same seeded generator as the phantom. */
export { mulberry32 } from '../../src/lib/core/phantom/random';
