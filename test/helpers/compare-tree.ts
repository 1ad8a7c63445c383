/** Every leaf of `expected` found in `actual` at the same path: numbers within 1e-6 relative (1e-6 absolute near 0). */
export function compareTree(expected: unknown, actual: unknown, where: string, problems: string[]): void {
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    if (actual === null || typeof actual !== 'object') {
      problems.push(`${where}: expected an object, got ${JSON.stringify(actual)}`);
      return;
    }
    for (const [key, value] of Object.entries(expected)) {
      if (key === 'oracle_version' || key === 'elapsed_s') continue;
      compareTree(value, (actual as Record<string, unknown>)[key], `${where}.${key}`, problems);
    }
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      problems.push(`${where}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
      return;
    }
    expected.forEach((value, n) => compareTree(value, actual[n], `${where}[${n}]`, problems));
    return;
  }
  if (typeof expected === 'number' && typeof actual === 'number') {
    const tolerance = Math.max(1e-6 * Math.abs(expected), 1e-6);
    if (!(Math.abs(actual - expected) <= tolerance))
      problems.push(`${where}: expected ${expected}, got ${actual}`);
    return;
  }
  if (expected !== actual)
    problems.push(`${where}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}
