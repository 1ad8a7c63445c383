import { describe, expect, it } from 'vitest';
import { assertQueueName, taskIdentifier } from './queues';

describe('taskIdentifier', () => {
  it('routes to the central workers without a queue', () => {
    expect(taskIdentifier('health')).toBe('health');
    expect(taskIdentifier('health', null)).toBe('health');
  });

  it('suffixes the queue for a bound worker', () => {
    expect(taskIdentifier('evaluate_case', 'site-a')).toBe('evaluate_case@site-a');
  });

  it('refuses names that could collide or inject', () => {
    expect(() => assertQueueName('Site A')).toThrowError(/Queue name "Site A" is invalid/);
    expect(() => assertQueueName('a@b')).toThrowError(/invalid/);
    expect(() => assertQueueName('')).toThrowError(/invalid/);
    expect(assertQueueName('site_b-2')).toBe('site_b-2');
  });
});
