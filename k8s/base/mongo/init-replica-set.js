// Run by the replica-set-init container beside mongod in every member; acts on member 0 only.
// Initiates the replica set and creates the root user, both through the localhost exception
// (no user exists yet, so only a client on the member's own address may do this). Each step
// is skipped once done, so a restarted pod runs it again safely. Exits non-zero on failure:
// the kubelet then restarts the container and it tries again.

const env = process.env;
const podName = env.POD_NAME;
if (!podName.endsWith("-0")) {
  print(`${podName}: member 0 initiates the replica set; nothing to do here`);
  quit(0);
}

function retrying(what, action, attempts = 120) {
  for (let attempt = 1; ; attempt++) {
    try {
      return action();
    } catch (error) {
      if (attempt >= attempts) {
        throw new Error(`${what}: gave up after ${attempts} attempts: ${error.message}`);
      }
      print(`${what}: waiting (${error.message})`);
      sleep(2000);
    }
  }
}

const admin = retrying("mongod on localhost", () => {
  const local = new Mongo("mongodb://127.0.0.1:27017/?directConnection=true").getDB("admin");
  local.runCommand({ ping: 1 });
  return local;
});

const initiated = admin.runCommand({ hello: 1 }).setName !== undefined;
if (!initiated) {
  const members = [];
  for (let id = 0; id < Number(env.MONGO_MEMBERS); id++) {
    const host = podName.replace(/-0$/, `-${id}`);
    members.push({ _id: id, host: `${host}.${env.MONGO_SERVICE}:27017`, priority: id === 0 ? 2 : 1 });
  }
  // Fails until every member answers (they start in parallel): retried.
  retrying("initiating the replica set", () => {
    try {
      admin.runCommand({ replSetInitiate: { _id: env.MONGO_REPLICA_SET, members } });
    } catch (error) {
      if (error.codeName !== "AlreadyInitialized") {
        throw error;
      }
    }
  });
  print(`replica set ${env.MONGO_REPLICA_SET} initiated with ${members.length} members`);
  retrying("becoming primary", () => {
    if (!admin.runCommand({ hello: 1 }).isWritablePrimary) {
      throw new Error("not primary yet");
    }
  });
} else if (!admin.runCommand({ hello: 1 }).isWritablePrimary) {
  // Initiated on an earlier start, and another member is primary: the root user was made then.
  print(`replica set ${env.MONGO_REPLICA_SET} was initiated before; nothing to do`);
  quit(0);
}

try {
  admin.createUser({
    user: env.MONGO_ROOT_USERNAME,
    pwd: env.MONGO_ROOT_PASSWORD,
    roles: [{ role: "root", db: "admin" }],
  });
  print(`root user ${env.MONGO_ROOT_USERNAME} created`);
} catch (error) {
  // Once any user exists the localhost exception is closed: the root user was made before.
  if (error.codeName !== "Unauthorized" && error.code !== 13) {
    throw error;
  }
  print("root user exists already");
}
