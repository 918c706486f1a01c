import createClient from "openapi-fetch";
import type { paths } from "./registry"; // npx openapi-typescript .../openapi.json -o registry.d.ts

export async function example(
  baseUrl: string,
  username: string,
  password: string,
  creditCode: string,
): Promise<string[]> {
  const registry = createClient<paths>({ baseUrl });

  // Sign in (OAuth2 password flow) and send the token with every request.
  const signIn = await registry.POST("/v1/auth/token", {
    body: { grant_type: "password", username, password, scope: "" },
    bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  if (!signIn.data) throw new Error(signIn.error?.detail);
  const token = signIn.data.access_token;
  registry.use({
    onRequest: ({ request }) => {
      request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
  });

  // Pages: follow `next_cursor` until it is null.
  const cities: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await registry.GET("/v1/localities", {
      params: { query: { level: "city", limit: 10, cursor } },
    });
    if (!page.data) throw new Error(page.error?.detail);
    cities.push(...page.data.items.map((locality) => locality.code));
    cursor = page.data.next_cursor ?? undefined;
  } while (cursor);

  // Retries: repeat a create with the same Idempotency-Key; the repeat answers the first
  // result and says so in `Idempotent-Replayed: true`.
  const enterprise = {
    credit_code: creditCode,
    name: "济南二机床集团有限公司",
    locality_code: "370100",
    industry: "high_end_equipment",
    size: "large",
  } as const;
  const key = { "Idempotency-Key": crypto.randomUUID() };
  const created = await registry.POST("/v1/enterprises", {
    params: { header: key },
    body: enterprise,
  });
  const again = await registry.POST("/v1/enterprises", {
    params: { header: key },
    body: enterprise,
  });
  if (!created.data) throw new Error(created.error?.detail);
  if (again.response.headers.get("Idempotent-Replayed") !== "true") throw new Error("no replay");
  const path = { enterprise_id: created.data.id };

  // Changes: send the ETag you read as If-Match (428 without it, 412 when stale).
  const read = await registry.GET("/v1/enterprises/{enterprise_id}", { params: { path } });
  const etag = read.response.headers.get("ETag") ?? "";
  const change = () =>
    registry.PATCH("/v1/enterprises/{enterprise_id}", {
      params: { path, header: { "If-Match": etag } },
      body: { size: "medium" },
    });
  const updated = await change();
  if (updated.response.status !== 200) throw new Error(updated.error?.detail);
  const stale = await change();
  // Every error is application/problem+json: `status`, `title`, `detail`, `errors`.
  if (stale.error?.status !== 412) throw new Error("expected 412 Precondition Failed");
  return cities;
}
