// Behind the HTTP API's POST /jobs: puts the request's job on the queue. esbuild bundles this
// file; @aws-sdk/* stays external, as NodejsFunction does by default, and comes from the runtime.
import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';

const sqs = new SQSClient({});

export const handler = async (event) => {
  const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString() : event.body;
  const { job } = JSON.parse(raw);
  const sent = await sqs.send(new SendMessageCommand({ QueueUrl: process.env.QUEUE_URL, MessageBody: job }));
  return { statusCode: 202, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ queued: job, messageId: sent.MessageId }) };
};
