// OpenRouter's TypeScript SDK against Switchyard: every call Switchyard supports, parsed by the
// SDK's own zod schemas (stricter than Python's about nulls). Prints one JSON line of results.
const { OpenRouter } = require("@openrouter/sdk");

async function main() {
  const client = new OpenRouter({
    apiKey: process.env.SY_KEY, serverURL: process.env.SY_URL, retryConfig: { strategy: "none" },
  });
  const model = process.env.SY_MODEL;
  const provider = { only: ["alpha"] };
  const setMock = (b) => fetch(`${process.env.SY_MOCK}/admin/providers/alpha`, {
    method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(b),
  });
  const msgs = [{ role: "user", content: "Say hello" }];
  const out = {};

  const r = await client.chat.send({ chatRequest: { model, messages: msgs, provider } });
  out.chat = r.choices[0].message.content;

  let text = "";
  let cost = 0;
  const stream = await client.chat.send({ chatRequest: { model, messages: msgs, provider, stream: true } });
  for await (const chunk of stream) {
    if (chunk.choices?.length) text += chunk.choices[0].delta?.content ?? "";
    if (chunk.usage) cost = chunk.usage.cost;
  }
  out.stream = text;
  out.stream_cost = cost;

  await setMock({ text: process.env.SY_TEXT, tool_call: true, tool_arguments: { city: "Paris" } });
  const tool = {
    type: "function",
    function: { name: "get_weather", description: "Weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
  };
  const t = await client.chat.send({ chatRequest: { model, messages: msgs, provider, tools: [tool] } });
  const call = t.choices[0].message.toolCalls[0];
  out.tool = { name: call.function.name, arguments: call.function.arguments };

  await setMock({ text: '{"answer":"hi"}' });
  const s = await client.chat.send({ chatRequest: { model, messages: msgs, provider,
    responseFormat: { type: "json_schema", jsonSchema: { name: "answer", schema: { type: "object", properties: { answer: { type: "string" } } } } } } });
  out.structured = s.choices[0].message.content;
  await setMock({ text: process.env.SY_TEXT });

  const models = [];
  for await (const page of await client.models.list()) {
    for (const m of page.result.data) models.push(m.id);
  }
  out.models = models;
  const [author, slug] = model.split("/");
  const eps = await client.endpoints.list({ author, slug });
  out.endpoint_status = eps.data.endpoints.map((e) => e.status);
  const key = await client.apiKeys.getCurrentKeyMetadata();
  out.key_label = key.data.label;
  out.key_limit = key.data.limit;
  const g = await client.generations.getGeneration({ id: r.id });
  out.generation_provider = g.data.providerName;
  const e = await client.embeddings.generate({ requestBody: { model: process.env.SY_EMBED, input: "one", provider } });
  out.embedding_length = e.data[0].embedding.length;

  await setMock({ text: process.env.SY_TEXT, cut_after: 3 });
  const broken = await client.chat.send({ chatRequest: { model, messages: msgs, stream: true,
    provider: { only: ["alpha"] } } });
  let last = null;
  for await (const chunk of broken) last = chunk;
  out.broken = last?.error ? { code: last.error.code, error_type: last.error.metadata?.errorType } : null;
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e); process.exit(1); });
