// A CDK app as a new user writes it: a queue, a Node.js function with an asset and an SQS trigger;
// an HTTP API whose route runs a NodejsFunction (bundled by esbuild, the AWS SDK left to the
// runtime) that puts jobs on the queue; and a Lambda-backed custom resource (the custom_resources
// Provider framework) whose attribute is a stack output.
const path = require('path');
const cdk = require('aws-cdk-lib');
const lambda = require('aws-cdk-lib/aws-lambda');
const sqs = require('aws-cdk-lib/aws-sqs');
const apigwv2 = require('aws-cdk-lib/aws-apigatewayv2');
const { HttpLambdaIntegration } = require('aws-cdk-lib/aws-apigatewayv2-integrations');
const { NodejsFunction } = require('aws-cdk-lib/aws-lambda-nodejs');
const { Provider } = require('aws-cdk-lib/custom-resources');
const { SqsEventSource } = require('aws-cdk-lib/aws-lambda-event-sources');

const app = new cdk.App();
const greeting = app.node.tryGetContext('greeting') || 'hello';
const stack = new cdk.Stack(app, 'CdkWorker');
const queue = new sqs.Queue(stack, 'Jobs');
const fn = new lambda.Function(stack, 'Worker', {
  runtime: lambda.Runtime.NODEJS_22_X,
  handler: 'index.handler',
  code: lambda.Code.fromAsset(`${__dirname}/lambda`),
  environment: { GREETING: greeting },
});
fn.addEventSource(new SqsEventSource(queue, { batchSize: 5 }));

const enqueue = new NodejsFunction(stack, 'Enqueue', {
  runtime: lambda.Runtime.NODEJS_22_X,
  entry: path.join(__dirname, 'api', 'index.mjs'),
  environment: { QUEUE_URL: queue.queueUrl },
});
queue.grantSendMessages(enqueue);
const api = new apigwv2.HttpApi(stack, 'Api');
api.addRoutes({ path: '/jobs', methods: [apigwv2.HttpMethod.POST], integration: new HttpLambdaIntegration('EnqueueIntegration', enqueue) });

const onEvent = new lambda.Function(stack, 'GreetingHandler', {
  runtime: lambda.Runtime.NODEJS_22_X,
  handler: 'index.onEvent',
  code: lambda.Code.fromAsset(`${__dirname}/greeting`),
});
const provider = new Provider(stack, 'GreetingProvider', { onEventHandler: onEvent });
const message = new cdk.CustomResource(stack, 'Greeting', { serviceToken: provider.serviceToken, properties: { Greeting: greeting } });

new cdk.CfnOutput(stack, 'FunctionName', { value: fn.functionName });
new cdk.CfnOutput(stack, 'QueueUrl', { value: queue.queueUrl });
new cdk.CfnOutput(stack, 'ApiId', { value: api.apiId });
new cdk.CfnOutput(stack, 'Message', { value: message.getAttString('Message') });
