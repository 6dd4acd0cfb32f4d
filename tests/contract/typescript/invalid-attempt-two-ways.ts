// An attempt gives exactly one of answer, choices and self_rating: two do not compile.
import createClient from "openapi-fetch";
import type { paths } from "./schema";

const api = createClient<paths>({ baseUrl: "http://127.0.0.1:8000" });

export const attempt = api.POST("/api/v1/questions/{question_id}/attempts", {
  params: { path: { question_id: 7 } },
  body: { answer: "Routes map URLs to views.", self_rating: "good" },
});
