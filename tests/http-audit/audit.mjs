// Runs the GraphQL-over-HTTP server audit from the `graphql-http` package
// against a running server and prints one line per check.
//
// Usage, with the server running:
//   cd tests/http-audit && npm ci && node audit.mjs http://127.0.0.1:8080/graphql
//
// Exits with status 1 when any check reports an error, a warning or a notice,
// or when the server cannot be reached, and with status 2 when the URL is
// missing or invalid.

import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('Missing the URL of the GraphQL endpoint. Usage: node audit.mjs http://127.0.0.1:8080/graphql');
  process.exit(2);
}
try {
  new URL(url);
} catch {
  console.error(`Invalid URL "${url}". Pass the full endpoint URL, for example http://127.0.0.1:8080/graphql`);
  process.exit(2);
}

let results;
try {
  results = await auditServer({ url });
} catch (error) {
  // The audit throws only when a request fails outright, such as a refused connection.
  const cause = error.cause ? ` (${error.cause.code ?? error.cause.message})` : '';
  console.error(`The audit could not reach ${url}: ${error.message}${cause}. Start the server and check the URL.`);
  process.exit(1);
}

const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const result of results) {
  counts[result.status] += 1;
  const line = `${result.status.toUpperCase().padEnd(6)} ${result.id} ${result.name}`;
  if (result.status === 'ok') {
    console.log(line);
    continue;
  }
  const body = await result.response.text().catch((error) => `(body not readable: ${error})`);
  console.log(`${line}\n       reason: ${result.reason}\n       status: ${result.response.status}, body: ${body}`);
}

console.log(
  `\n${results.length} checks: ${counts.ok} ok, ${counts.notice} notice, ${counts.warn} warn, ${counts.error} error`,
);
process.exit(results.length > 0 && counts.ok === results.length ? 0 : 1);
