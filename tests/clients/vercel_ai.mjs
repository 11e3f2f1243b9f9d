// One generateText and one streamText call of the Vercel AI SDK's default OpenAI provider
// (`openai(model)`, the Responses API) against BASE_URL with API_KEY; prints one JSON object.
//
// Usage: node tests/clients/vercel_ai.mjs BASE_URL API_KEY MODEL PROMPT
// The packages come from tests/clients/node (`npm ci --prefix tests/clients/node`), which
// node's own resolution would not search from here.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const packages = createRequire(new URL("./node/package.json", import.meta.url));

async function load(name) {
  return import(pathToFileURL(packages.resolve(name)).href);
}

function version(name) {
  return packages(`${name}/package.json`).version;
}

function describeError(error) {
  return {
    name: error?.name,
    message: String(error?.message ?? error),
    status: error?.statusCode,
    body: error?.responseBody,
  };
}

async function generate(ai, model, prompt) {
  const result = await ai.generateText({ model, prompt, maxRetries: 0 });
  return { text: result.text, finishReason: result.finishReason, usage: result.usage };
}

async function stream(ai, model, prompt) {
  const errors = [];
  const result = ai.streamText({
    model,
    prompt,
    maxRetries: 0,
    onError: ({ error }) => errors.push(describeError(error)),
  });
  const deltas = [];
  for await (const delta of result.textStream) {
    deltas.push(delta);
  }
  return {
    text: await result.text,
    deltas,
    finishReason: await result.finishReason,
    usage: await result.usage,
    errors,
  };
}

async function main([baseURL, apiKey, modelId, prompt]) {
  const ai = await load("ai");
  const { createOpenAI } = await load("@ai-sdk/openai");
  const model = createOpenAI({ baseURL, apiKey })(modelId);
  const out = {
    versions: { ai: version("ai"), "@ai-sdk/openai": version("@ai-sdk/openai") },
    provider: model.provider,
  };
  try {
    out.generate = await generate(ai, model, prompt);
    out.stream = await stream(ai, model, prompt);
  } catch (error) {
    out.error = describeError(error);
  }
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exitCode = out.error ? 1 : 0;
}

await main(process.argv.slice(2));
