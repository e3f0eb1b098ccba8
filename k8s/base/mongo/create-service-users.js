// Run by the mongo-users Job: one MongoDB user per service, allowed to read and write only
// its own database. Each service's user, password and database come from the MONGO_URL in
// that service's Secret (mongodb://USER:PASSWORD@HOSTS/DATABASE?replicaSet=rs0), passed to
// the Job as SERVICE_MONGO_URL_<SERVICE>. Creates missing users and resets the others'
// passwords and roles to match, so rotating a password is: change the Secret, re-run the Job.

const env = process.env;
const urlPattern = /^mongodb:\/\/([^:@\/]+):([^@\/]+)@[^\/]+\/([^?\/]+)/;

const rootUrl =
  `mongodb://${encodeURIComponent(env.MONGO_ROOT_USERNAME)}:${encodeURIComponent(env.MONGO_ROOT_PASSWORD)}` +
  `@${env.MONGO_HOSTS}/admin?replicaSet=${env.MONGO_REPLICA_SET}&authSource=admin`;
const root = new Mongo(rootUrl);

const variables = Object.keys(env).filter((name) => name.startsWith("SERVICE_MONGO_URL_")).sort();
if (variables.length === 0) {
  throw new Error("no SERVICE_MONGO_URL_<SERVICE> variable: nothing to create");
}
for (const variable of variables) {
  const match = urlPattern.exec(env[variable]);
  if (match === null) {
    throw new Error(`${variable} is not mongodb://USER:PASSWORD@HOSTS/DATABASE...`);
  }
  const [user, password, database] = match.slice(1).map(decodeURIComponent);
  const db = root.getDB(database);
  const roles = [{ role: "readWrite", db: database }];
  if (db.getUser(user) === null) {
    db.createUser({ user, pwd: password, roles });
    print(`${variable}: created user ${user} for database ${database}`);
  } else {
    db.updateUser(user, { pwd: password, roles });
    print(`${variable}: updated user ${user} for database ${database}`);
  }
}
