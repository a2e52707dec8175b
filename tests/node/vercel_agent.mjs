// The Vercel AI SDK against behest-local's emulated model, one scenario per run (SCENARIO):
// generateText with a tool over several steps, generateObject, streamObject. Prints one JSON
// line with what the SDK returned, for tests/ecosystem/test_vercel_ai.py to assert on.
import { createOpenAI } from "@ai-sdk/openai";
import { generateObject, generateText, stepCountIs, streamObject, tool } from "ai";
import { z } from "zod";

const provider = createOpenAI({ baseURL: process.env.BEHEST_BASE_URL, apiKey: process.env.BEHEST_API_KEY });
const model = provider.chat("gpt-4o");
const report = z.object({
  city: z.string(),
  temperature: z.number(),
  condition: z.enum(["sunny", "cloudy", "rainy"]),
});

const scenarios = {
  async multiStepTools() {
    const weather = tool({
      description: "Get the current weather for a city",
      inputSchema: z.object({ city: z.string() }),
      execute: async ({ city }) => ({ city, temperature: 21.5, condition: "sunny" }),
    });
    const result = await generateText({
      model, tools: { weather }, stopWhen: stepCountIs(5), prompt: "What's the weather in Paris?",
    });
    return {
      text: result.text,
      steps: result.steps.length,
      calls: result.steps.flatMap((step) => step.toolCalls.map((call) => [call.toolName, call.input])),
    };
  },
  async generateObject() {
    const result = await generateObject({ model, schema: report, prompt: "What's the weather in Paris?" });
    return { object: result.object };
  },
  async streamObject() {
    const stream = streamObject({ model, schema: report, prompt: "What's the weather in Paris?" });
    let partials = 0;
    for await (const _ of stream.partialObjectStream) partials += 1;
    return { object: await stream.object, partials };
  },
};

const output = await scenarios[process.env.SCENARIO]();
console.log(JSON.stringify(output));
