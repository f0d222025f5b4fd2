// A CDK app as a new user writes it: a queue, a Node.js function with an asset, an SQS trigger.
const cdk = require('aws-cdk-lib');
const lambda = require('aws-cdk-lib/aws-lambda');
const sqs = require('aws-cdk-lib/aws-sqs');
const { SqsEventSource } = require('aws-cdk-lib/aws-lambda-event-sources');

const app = new cdk.App();
const stack = new cdk.Stack(app, 'CdkWorker');
const queue = new sqs.Queue(stack, 'Jobs');
const fn = new lambda.Function(stack, 'Worker', {
  runtime: lambda.Runtime.NODEJS_22_X,
  handler: 'index.handler',
  code: lambda.Code.fromAsset(`${__dirname}/lambda`),
  environment: { GREETING: app.node.tryGetContext('greeting') || 'hello' },
});
fn.addEventSource(new SqsEventSource(queue, { batchSize: 5 }));
new cdk.CfnOutput(stack, 'FunctionName', { value: fn.functionName });
new cdk.CfnOutput(stack, 'QueueUrl', { value: queue.queueUrl });
