console.log("smbtrail");
