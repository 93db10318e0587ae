//! A Slurm cluster of one test's own: Debian's `slurm-wlm` and `munge`
//! (`.ci/run` installs them), a munge daemon, `slurmctld` and one `slurmd`
//! on free loopback ports, with every file in a temporary folder, stopped
//! when dropped. Slurm's daemons run as root, as on a cluster's nodes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Slurm {
    conf: PathBuf,
    daemons: Vec<Child>,
    dir: tempfile::TempDir,
}

/// Whether `program` is on the PATH.
fn installed(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
        || Path::new("/usr/sbin").join(program).is_file()
}

fn program(name: &str) -> PathBuf {
    let sbin = Path::new("/usr/sbin").join(name);
    if sbin.is_file() { sbin } else { PathBuf::from(name) }
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits up to 30 s for `ready`, with what to read when it never is.
fn wait_for(what: &str, log: &Path, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Slurm {
    /// A running cluster of one node, or `None` outside CI where Slurm is
    /// not installed or the tests do not run as root.
    pub fn start() -> Option<Slurm> {
        let missing: Vec<&str> =
            ["munged", "slurmctld", "slurmd", "sbatch", "sinfo"].into_iter().filter(|p| !installed(p)).collect();
        let problem = if !missing.is_empty() {
            Some(format!("{} missing (apt-get install slurm-wlm munge)", missing.join(", ")))
        } else if !is_root() {
            Some("Slurm's daemons need root".to_string())
        } else {
            None
        };
        if let Some(problem) = problem {
            assert!(std::env::var_os("CI").is_none(), "{problem}, and CI must run the Slurm test");
            eprintln!("SKIPPED: {problem}");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let path = |name: &str| root.join(name);
        for sub in ["state", "spool", "munge"] {
            std::fs::create_dir(path(sub)).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path("munge"), std::fs::Permissions::from_mode(0o700)).unwrap();
        let mut urandom = std::fs::File::open("/dev/urandom").unwrap();
        let mut key = vec![0u8; 1024];
        std::io::Read::read_exact(&mut urandom, &mut key).unwrap();
        std::fs::write(path("munge/munge.key"), key).unwrap();
        std::fs::set_permissions(path("munge/munge.key"), std::fs::Permissions::from_mode(0o400)).unwrap();

        let mut slurm = Slurm { conf: path("slurm.conf"), daemons: Vec::new(), dir };
        let socket = path("munge/munge.sock");
        let munged = Command::new(program("munged"))
            .args(["--force", "--foreground"])
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--key-file={}", path("munge/munge.key").display()))
            .arg(format!("--log-file={}", path("munged.log").display()))
            .arg(format!("--pid-file={}", path("munge/munged.pid").display()))
            .arg(format!("--seed-file={}", path("munge/munged.seed").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        slurm.daemons.push(munged);
        wait_for("munged", &path("munged.log"), || socket.exists());

        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
        let host = host.split('.').next().unwrap().to_string();
        let conf = format!(
            "ClusterName=assaytest\n\
             SlurmctldHost={host}(127.0.0.1)\n\
             SlurmctldPort={ctld}\n\
             SlurmdPort={slurmd}\n\
             SlurmUser=root\n\
             SlurmdUser=root\n\
             AuthType=auth/munge\n\
             CredType=cred/munge\n\
             AuthInfo=socket={socket}\n\
             StateSaveLocation={state}\n\
             SlurmdSpoolDir={spool}\n\
             SlurmctldPidFile={dir}/slurmctld.pid\n\
             SlurmdPidFile={dir}/slurmd.pid\n\
             SlurmctldLogFile={dir}/slurmctld.log\n\
             SlurmdLogFile={dir}/slurmd.log\n\
             ProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\n\
             MpiDefault=none\n\
             SwitchType=switch/none\n\
             SchedulerType=sched/backfill\n\
             SelectType=select/cons_tres\n\
             SelectTypeParameters=CR_CPU\n\
             ReturnToService=2\n\
             DependencyParameters=kill_invalid_depend\n\
             JobCompType=jobcomp/none\n\
             AccountingStorageType=accounting_storage/none\n\
             JobAcctGatherType=jobacct_gather/none\n\
             PlugStackConfig=/dev/null\n\
             NodeName=assay-node NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN\n\
             PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
            ctld = free_port(),
            slurmd = free_port(),
            socket = socket.display(),
            state = path("state").display(),
            spool = path("spool").display(),
            dir = root.display(),
        );
        std::fs::write(&slurm.conf, conf).unwrap();
        for (daemon, args) in [("slurmctld", &["-D", "-i"][..]), ("slurmd", &["-D", "-N", "assay-node"][..])] {
            let child = Command::new(program(daemon))
                .args(args)
                .env("SLURM_CONF", &slurm.conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            slurm.daemons.push(child);
        }
        let log = path("slurmctld.log");
        wait_for("the Slurm node", &log, || {
            let output = slurm.command("sinfo").args(["-h", "-o", "%t"]).output().unwrap();
            String::from_utf8_lossy(&output.stdout).trim() == "idle"
        });
        Some(slurm)
    }

    /// A Slurm command (`sbatch`, `squeue`...) that talks to this cluster,
    /// killed after 5 minutes: a job that never runs must fail the test,
    /// not hang it.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("timeout");
        command.arg("300").arg(program).env("SLURM_CONF", &self.conf);
        command
    }

    /// The daemons' logs, for a failing test to show.
    pub fn logs(&self) -> String {
        ["slurmctld.log", "slurmd.log"]
            .iter()
            .map(|name| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        for daemon in self.daemons.iter_mut().rev() {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
    }
}
