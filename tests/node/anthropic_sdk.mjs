// The @anthropic-ai/sdk against behest-local: create, then stream (events and the final
// message), then a tool call; prints one JSON object with what it saw on its last line.
// Environment: ANTHROPIC_BASE_URL (the gateway, no /v1) and ANTHROPIC_API_KEY (a project key).
import Anthropic from "@anthropic-ai/sdk";

const client = new Anthropic({ maxRetries: 0 });
const model = process.env.MODEL || "claude-sonnet-4-5";
const messages = [{ role: "user", content: "What is 2+2?" }];

const created = await client.messages.create({ model, max_tokens: 256, messages });

const stream = client.messages.stream({ model, max_tokens: 256, messages });
const events = [];
let text = "";
stream.on("text", (piece) => { text += piece; });
for await (const event of stream) events.push(event.type);
const final = await stream.finalMessage();

const tools = [{
  name: "get_weather", description: "Get the weather for a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
}];
const called = await client.messages.create({
  model, max_tokens: 256, tools, messages: [{ role: "user", content: "What's the weather in Paris?" }],
});

let rateLimited = null;
try {
  await client.messages.create({ model, max_tokens: 16, messages },
                               { headers: { "x-behest-emulate": "status=429" } });
} catch (error) {
  rateLimited = { status: error.status, type: error.error?.error?.type,
                  isRateLimit: error instanceof Anthropic.RateLimitError };
}

console.log(JSON.stringify({
  created: { text: created.content[0].text, stop_reason: created.stop_reason,
             usage: created.usage },
  streamed: { text, events, final_text: final.content[0].text, stop_reason: final.stop_reason },
  tool: called.content.find((block) => block.type === "tool_use") ?? null,
  tool_stop: called.stop_reason,
  rateLimited,
}));
