// The official @anthropic-ai/sdk through Switchyard: create, stream, a tool-use round trip and
// count_tokens against the provider named by SY_PROVIDER. Prints one JSON line of results.
// CommonJS so that NODE_PATH (the pinned modules' folder) resolves the SDK.
const Anthropic = require("@anthropic-ai/sdk").default;

async function main() {
const client = new Anthropic({ baseURL: process.env.SY_URL, apiKey: "unused", maxRetries: 0 });
const model = process.env.SY_MODEL;
const provider = { only: [process.env.SY_PROVIDER] };
const weather = {
  name: "get_weather",
  description: "Current weather in a city",
  input_schema: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
};
const out = {};

const m = await client.messages.create({
  model, max_tokens: 256, provider, messages: [{ role: "user", content: "Say hello" }],
});
out.create = { text: m.content[0].text, stop_reason: m.stop_reason, output_tokens: m.usage.output_tokens, model: m.model };

const stream = client.messages.stream({
  model, max_tokens: 256, provider, messages: [{ role: "user", content: "Say hello" }],
});
let streamed = "";
stream.on("text", (t) => { streamed += t; });
const final = await stream.finalMessage();
out.stream = { text: streamed, final: final.content[0].text, stop_reason: final.stop_reason };

await fetch(`${process.env.SY_MOCK}/admin/providers/${process.env.SY_PROVIDER}`, {
  method: "PUT", headers: { "content-type": "application/json" },
  body: JSON.stringify({ text: process.env.SY_TEXT, tool_call: true, tool_arguments: { location: "Oslo" } }),
});
const ask = [{ role: "user", content: "Weather in Oslo?" }];
const t = await client.messages.create({ model, max_tokens: 256, provider, tools: [weather], messages: ask });
const call = t.content.find((b) => b.type === "tool_use");
await fetch(`${process.env.SY_MOCK}/admin/providers/${process.env.SY_PROVIDER}`, {
  method: "PUT", headers: { "content-type": "application/json" },
  body: JSON.stringify({ text: process.env.SY_TEXT }),
});
const back = await client.messages.create({
  model, max_tokens: 256, provider, tools: [weather],
  messages: [...ask, { role: "assistant", content: t.content },
    { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "12 degrees" }] }],
});
out.tools = { stop_reason: t.stop_reason, name: call.name, input: call.input, answer: back.content[0].text };

const n = await client.messages.countTokens({
  model, provider, messages: [{ role: "user", content: "one two three four five" }],
});
out.count = n.input_tokens;
console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e); process.exit(1); });
