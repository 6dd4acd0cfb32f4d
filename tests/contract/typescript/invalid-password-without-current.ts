// A new password goes with the current one: alone it does not compile.
import createClient from "openapi-fetch";
import type { paths } from "./schema";

const api = createClient<paths>({ baseUrl: "http://127.0.0.1:8000" });

export const update = api.PATCH("/api/v1/me", {
  body: { password: "a much longer passphrase now" },
});
