import { withDurableExecution } from "@aws/durable-execution-sdk-js";

export const handler = withDurableExecution(async (event, context) => {
  const a = await context.step("double", async () => event.n * 2);
  await context.wait({ hours: 2 });
  const [promise, callbackId] = await context.createCallback("approval");
  await context.step("publish", async () => callbackId);
  const approval = await promise;
  return { doubled: a, approval };
});
