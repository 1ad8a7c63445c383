/**
 * Answers of the dashboards by data version and question, least recently used dropped first: the same
 * view is not recomputed until the data change (every change raises the analytics version, so an answer
 * under an old version is never served again). Promises are kept, so requests that arrive together
 * share one computation; a failed computation is forgotten.
 */
const answers = new Map<string, Promise<unknown>>();
const MAX_ANSWERS = 64;

export function rememberAnswer<T>(
  version: number,
  question: string,
  args: unknown,
  compute: () => Promise<T>,
): Promise<T> {
  const key = `${version} ${question} ${JSON.stringify(args)}`;
  const kept = answers.get(key) as Promise<T> | undefined;
  if (kept !== undefined) {
    answers.delete(key);
    answers.set(key, kept);
    return kept;
  }
  const answer = compute();
  answers.set(key, answer);
  answer.catch(() => answers.delete(key));
  for (const oldest of answers.keys()) {
    if (answers.size <= MAX_ANSWERS) break;
    answers.delete(oldest);
  }
  return answer;
}
