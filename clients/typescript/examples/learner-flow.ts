// A learner's whole session through the SDK, against a running server:
//   node learner-flow.js http://127.0.0.1:8000 someone@example.com 'a long passphrase'
// Prints what it saw as one JSON line (tests/contract/test_clients.py checks it).
import { ProblemError, Qbank, type Schemas } from "../src/qbank.js";

declare const process: { argv: string[] }; // Node, without @types/node
const [base, email, password] = process.argv.slice(2);
const seen: Record<string, unknown> = {};
let tokenPairs = 0;
const qbank = new Qbank({ baseUrl: base, onTokens: () => (tokenPairs += 1) });

await Qbank.ok(
  await qbank.api.POST("/api/v1/auth/register", {
    body: { email, password },
  }),
);
const user = await qbank.login(email, password);
seen.role = user.role;

// Every question of a topic, five a page, following Link: rel="next".
const ids: number[] = [];
for await (const question of qbank.items<Schemas["Question"]>("/api/v1/questions?topic=basics&per_page=5")) {
  ids.push(question.id);
}
const first = await qbank.api.GET("/api/v1/questions", { params: { query: { topic: ["basics"], per_page: 1 } } });
seen.listed = ids.length;
seen.total = Number(first.response.headers.get("X-Total-Count"));

// A question with its answer, read twice: the second time from the cache after a 304.
const read = () =>
  qbank.api.GET("/api/v1/questions/{question_id}", {
    params: { path: { question_id: ids[0] }, query: { include: ["answer"] } },
  });
const once = await Qbank.ok(await read());
const twice = await Qbank.ok(await read());
seen.answer_typed = typeof once.answer === "string" && once.answer === twice.answer;
seen.revalidated = qbank.revalidated;

// A cache of one answer: reading another question drops the first one's.
const small = new Qbank({ baseUrl: base, cacheEntries: 1 });
const get = (id: number) =>
  small.api.GET("/api/v1/questions/{question_id}", { params: { path: { question_id: id } } });
await get(ids[0]);
await get(ids[1]);
await get(ids[0]); // dropped: read whole again
const afterEviction = small.revalidated;
await get(ids[0]); // kept: a 304
seen.small_cache = [afterEviction, small.revalidated];

// A quiz of two, one question rated, finished with per-question results.
const quiz = await Qbank.ok(await qbank.api.POST("/api/v1/quizzes", { body: { count: 2 } }));
await Qbank.ok(
  await qbank.api.POST("/api/v1/questions/{question_id}/attempts", {
    params: { path: { question_id: quiz.questions[0].id } },
    body: { self_rating: "good", quiz_id: quiz.id },
  }),
);
const finished = await Qbank.ok(
  await qbank.api.POST("/api/v1/quizzes/{quiz_id}/finish", { params: { path: { quiz_id: quiz.id } } }),
);
seen.finished = finished.finished_at !== null;
seen.results = finished.progress.results.map((result) => result.answered);

// The access token expires (the test serves 2-second ones): the SDK refreshes and retries.
await new Promise((resolve) => setTimeout(resolve, 3000));
const me = await Qbank.ok(await qbank.api.GET("/api/v1/me"));
seen.me_after_expiry = me.email === email;
seen.token_pairs = tokenPairs;

// A problem is a typed error.
try {
  await Qbank.ok(await qbank.api.GET("/api/v1/questions/{question_id}", { params: { path: { question_id: 999999 } } }));
  seen.problem = "none";
} catch (error) {
  seen.problem = error instanceof ProblemError && error.is("not-found") ? error.type : String(error);
}
await qbank.logout();
console.log(JSON.stringify(seen));
