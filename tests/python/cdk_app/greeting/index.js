// The custom resource's onEvent handler for the Provider framework: what it returns becomes the
// resource's physical id and attributes.
exports.onEvent = async (event) => {
  console.log(`${event.RequestType} ${event.LogicalResourceId}`);
  if (event.RequestType === 'Delete') return {};
  const greeting = event.ResourceProperties.Greeting;
  return { PhysicalResourceId: `greeting-${greeting}`, Data: { Message: `${greeting} from a custom resource` } };
};
