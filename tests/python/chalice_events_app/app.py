import json

from chalice import Chalice, Rate

app = Chalice(app_name='events')


def log(kind, **fields):
    # One JSON line per run, which the test finds in CloudWatch Logs.
    print(json.dumps({'kind': kind, **fields}, sort_keys=True))


@app.schedule(Rate(5, unit=Rate.MINUTES))
def every_five_minutes(event):
    log('schedule', source=event.source, detail_type=event.detail_type, time=event.time,
        resources=event.resources, account=event.account, region=event.region, detail=event.detail)


@app.on_sns_message(topic='chalice-events-topic')
def on_message(event):
    log('sns', message=event.message, subject=event.subject, attributes=event.message_attributes)


@app.on_s3_event(bucket='chalice-events-uploads', events=['s3:ObjectCreated:*'], prefix='uploads/',
                 suffix='.jpg')
def on_upload(event):
    record = event.to_dict()['Records'][0]
    log('s3', bucket=event.bucket, key=event.key, event_name=record['eventName'],
        configuration_id=record['s3']['configurationId'])
