// Smoke test of `fathom serve` with the official `openai` npm package: node smoke.mjs BASE_URL API_KEY
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const [base, key] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0 });
const results = [];

async function check(name, fn) {
  try {
    await fn();
    results.push([name, true]);
    console.log(`ok   ${name}`);
  } catch (e) {
    results.push([name, false]);
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}

await check('models', async () => {
  const models = await client.models.list();
  assert.ok(models.data.length === 1 && models.data[0].id, JSON.stringify(models.data));
});

let whole;
await check('chat completion', async () => {
  const c = await client.chat.completions.create({
    model: 'fathom', messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 12, temperature: 0,
  });
  assert.equal(c.object, 'chat.completion');
  assert.equal(c.choices[0].finish_reason, 'length');
  assert.equal(c.usage.completion_tokens, 12);
  assert.equal(c.usage.prompt_cache_hit_tokens + c.usage.prompt_cache_miss_tokens, c.usage.prompt_tokens);
  whole = c.choices[0].message.content;
  assert.ok(whole.length > 0);
});

await check('chat streaming', async () => {
  const stream = await client.chat.completions.create({
    model: 'fathom', messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 12, temperature: 0,
    stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let usage;
  for await (const chunk of stream) {
    for (const choice of chunk.choices) text += choice.delta.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, whole, 'streamed text equals the non-streamed text');
  assert.equal(usage.completion_tokens, 12);
});

await check('fill-in-the-middle completion', async () => {
  const c = await client.completions.create({
    model: 'fathom', prompt: 'def add(a, b):', suffix: '    return c', max_tokens: 8, temperature: 0,
  });
  assert.equal(c.object, 'text_completion');
  assert.equal(c.usage.completion_tokens, 8);
});

await check('invalid parameter is 422 naming it', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'fathom', messages: [{ role: 'user', content: 'x' }], temperature: 9 }),
    (e) => e.status === 422 && /temperature/.test(e.message),
  );
});

await check('wrong API key is 401', async () => {
  const bad = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e.status === 401);
});

const failed = results.filter(([, ok]) => !ok).length;
console.log(`smoke: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
