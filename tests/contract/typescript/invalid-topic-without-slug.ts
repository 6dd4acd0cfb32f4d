// A new topic has a slug: without one it does not compile.
import createClient from "openapi-fetch";
import type { paths } from "./schema";

const api = createClient<paths>({ baseUrl: "http://127.0.0.1:8000" });

export const topic = api.POST("/api/v1/topics", { body: { name: "Profiling" } });
