// Bodies a frontend naturally writes, and reads it naturally makes, compile against the
// types openapi-typescript generates from openapi.yaml (tests/contract/test_clients.py
// generates ./schema.d.ts beside this file and runs `tsc --strict --noEmit`).
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

const api = createClient<paths>({ baseUrl: "http://127.0.0.1:8000" });

export async function practise(token: string): Promise<string[]> {
  const headers = { Authorization: `Bearer ${token}` };
  const seen: string[] = [];

  // A quiz of five: the defaulted filters are left out.
  const quiz = await api.POST("/api/v1/quizzes", { body: { count: 5 }, headers });
  const first = quiz.data?.questions[0];
  if (!first) return seen;
  // Topics and tags carry the name to show beside the slug to link by.
  const labels: string[] = first.topics.map((topic) => `${topic.name} (${topic.slug})`);
  seen.push(...labels, ...first.tags.map((tag) => tag.name));

  // An attempt that is only a self-rating.
  const attempt = await api.POST("/api/v1/questions/{question_id}/attempts", {
    params: { path: { question_id: first.id } },
    body: { self_rating: "good" },
    headers,
  });
  const rating: components["schemas"]["SelfRating"] | undefined = attempt.data?.rating;
  if (rating) seen.push(rating);

  // The question with its answer: the answer fields are read directly, no narrowing.
  const read = await api.GET("/api/v1/questions/{question_id}", {
    params: { path: { question_id: first.id }, query: { include: ["answer"] } },
  });
  const answer: string | undefined = read.data?.answer;
  const points: string[] = (read.data?.key_points ?? []).map((point) => point.text);
  const note: string | null | undefined = read.data?.note;
  seen.push(answer ?? "", ...points, note ?? "");

  const finished = await api.POST("/api/v1/quizzes/{quiz_id}/finish", {
    params: { path: { quiz_id: quiz.data!.id } },
    headers,
  });
  seen.push(finished.data?.finished_at ?? "");
  return seen;
}

export async function edit(token: string, etag: string): Promise<void> {
  const headers = { Authorization: `Bearer ${token}` };
  // One field changed; the others (defaulted in the schema) are left out.
  await api.PATCH("/api/v1/questions/{question_id}", {
    params: { path: { question_id: 7 }, header: { "If-Match": etag } },
    body: { difficulty: "hard" },
    headers,
  });
  await api.POST("/api/v1/topics", { body: { slug: "profiling", name: "Profiling" }, headers });
  await api.POST("/api/v1/questions", {
    body: { prompt: "What does `flask run --debug` turn on?", answer: "The reloader and debugger." },
    headers,
  });
  await api.PATCH("/api/v1/me", { body: { display_name: "Sam" }, headers });
  await api.PATCH("/api/v1/me", {
    body: { password: "a much longer passphrase now", current_password: "the old one" },
    headers,
  });
  await api.POST("/api/v1/questions/{question_id}/attempts", {
    params: { path: { question_id: 7 } },
    body: { choices: [0, 2] },
    headers,
  });
  await api.POST("/api/v1/questions/{question_id}/attempts", {
    params: { path: { question_id: 7 } },
    body: { answer: "Routes map URLs to views.", quiz_id: 3 },
    headers,
  });
}
