exports.handler = async (event) => {
  for (const record of event.Records || []) console.log(`${process.env.GREETING} ${record.body}`);
  return process.env.GREETING;
};
