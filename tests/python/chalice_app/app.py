from chalice import Chalice, AuthResponse

app = Chalice(app_name='demo')


@app.authorizer()
def token_auth(auth_request):
    if auth_request.token == 'allow':
        return AuthResponse(routes=['/private'], principal_id='alice', context={'team': 'blue'})
    return AuthResponse(routes=[], principal_id='nobody')


@app.route('/')
def index():
    return {'hello': 'world'}


@app.route('/items/{item_id}', methods=['GET', 'PUT'])
def item(item_id):
    request = app.current_request
    return {'id': item_id, 'method': request.method, 'body': request.json_body}


@app.route('/private', authorizer=token_auth)
def private():
    ctx = app.current_request.context['authorizer']
    return {'principal': ctx['principalId'], 'team': ctx.get('team')}


@app.route('/cors', cors=True)
def cors():
    return {'cors': True}
